//! The host operations a `perform` asks for, parsed from the request dict.
//!
//! One parser serves every store (the in-memory one of `sx run`, SQLite under
//! `sx serve`), so a malformed request gets the same error everywhere, before
//! anything is touched.

use lang::Value;

/// A parsed host request.
#[derive(Debug)]
pub enum Request {
    /// `{:op "kv-get" :key K}`.
    Get(String),
    /// `{:op "kv-put" :key K :value V}`.
    Put(String, Value),
    /// `{:op "kv-delete" :key K}`.
    Delete(String),
    /// `{:op "kv-scan" :prefix P}`.
    Scan(String),
    /// `{:op "now"}`.
    Now,
    /// `{:op "kv-tx" …}`: one atomic write.
    Tx(Tx),
    /// `{:op "host-stats"}`: the server's request counters.
    HostStats,
}

/// `{:op "kv-tx" :put {K V …} :delete (K …) :absent (K …) :present (K …)}`: every
/// put and delete in one transaction, made only when every `:absent` key is
/// absent and every `:present` key present; it answers true when it was made and
/// false (nothing written) when a condition failed.
#[derive(Debug, Default)]
pub struct Tx {
    /// Keys and the values to store under them.
    pub put: Vec<(String, Value)>,
    /// Keys to remove.
    pub delete: Vec<String>,
    /// Keys that must not exist.
    pub absent: Vec<String>,
    /// Keys that must exist.
    pub present: Vec<String>,
}

impl Request {
    /// Parses `request`, or says what is wrong with it.
    pub fn parse(request: &Value) -> Result<Request, String> {
        let Value::Dict(d) = request else {
            return Err(format!(
                "perform: expected a request dict with :op, got {}",
                request.kind()
            ));
        };
        let field = |name: &str| d.get(&Value::keyword(name));
        let op = match field("op") {
            Some(Value::Str(s)) => s.to_string(),
            Some(Value::Keyword(k)) | Some(Value::Sym(k)) => k.name().to_string(),
            Some(other) => {
                return Err(format!(
                    "perform: :op must be a string, got {}",
                    other.kind()
                ))
            }
            None => return Err("perform: request has no :op".into()),
        };
        let key = |what: &str| match field(what) {
            Some(Value::Str(s)) => Ok(s.to_string()),
            Some(other) => Err(format!(
                "perform {op}: :{what} must be a string, got {}",
                other.kind()
            )),
            None => Err(format!("perform {op}: request has no :{what}")),
        };
        let keys = |what: &str| -> Result<Vec<String>, String> {
            match field(what) {
                None | Some(Value::Nil) => Ok(Vec::new()),
                Some(Value::List(items)) => items
                    .as_slice()
                    .iter()
                    .map(|k| match k {
                        Value::Str(s) => Ok(s.to_string()),
                        other => Err(format!(
                            "perform {op}: :{what} must be a list of strings, got {} in it",
                            other.kind()
                        )),
                    })
                    .collect(),
                Some(other) => Err(format!(
                    "perform {op}: :{what} must be a list of strings, got {}",
                    other.kind()
                )),
            }
        };
        Ok(match op.as_str() {
            "kv-get" => Request::Get(key("key")?),
            "kv-put" => {
                let k = key("key")?;
                Request::Put(k, field("value").cloned().unwrap_or(Value::Nil))
            }
            "kv-delete" => Request::Delete(key("key")?),
            "kv-scan" => Request::Scan(key("prefix")?),
            "now" => Request::Now,
            "host-stats" => Request::HostStats,
            "kv-tx" => {
                let put = match field("put") {
                    None | Some(Value::Nil) => Vec::new(),
                    Some(Value::Dict(p)) => p
                        .iter()
                        .map(|(k, v)| match k {
                            Value::Str(s) => Ok((s.to_string(), v.clone())),
                            other => Err(format!(
                                "perform kv-tx: the keys of :put must be strings, got {}",
                                other.kind()
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(other) => {
                        return Err(format!(
                            "perform kv-tx: :put must be a dict, got {}",
                            other.kind()
                        ))
                    }
                };
                Request::Tx(Tx {
                    put,
                    delete: keys("delete")?,
                    absent: keys("absent")?,
                    present: keys("present")?,
                })
            }
            other => return Err(format!("perform: no handler for op \"{other}\"")),
        })
    }

    /// The name of the operation (for logs).
    pub fn op(&self) -> &'static str {
        match self {
            Request::Get(_) => "kv-get",
            Request::Put(..) => "kv-put",
            Request::Delete(_) => "kv-delete",
            Request::Scan(_) => "kv-scan",
            Request::Now => "now",
            Request::Tx(_) => "kv-tx",
            Request::HostStats => "host-stats",
        }
    }
}

/// Milliseconds since the Unix epoch (the answer to `now`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
