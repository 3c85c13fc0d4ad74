//! The HTTP/1.1 front: hyper on tokio. Each request is read (its body capped),
//! handed to the interpreter thread as an [`Event::Http`], and answered with what
//! comes back. On Ctrl-C or SIGTERM it stops accepting, lets the requests in
//! flight finish, and returns.

use std::convert::Infallible;
use std::sync::mpsc::Sender;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::worker::{Event, HttpRequest, HttpResponse};

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// How long shutting down waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `listener` until a stop signal, then drains.
pub async fn serve(listener: TcpListener, events: Sender<Event>) {
    let graceful = GracefulShutdown::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let events = events.clone();
                let service = service_fn(move |req| answer(req, events.clone()));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    tracing::info!("stopping: finishing the requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still open after {DRAIN:?}; stopping anyway");
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn answer(
    req: Request<Incoming>,
    events: Sender<Event>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_big = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Ok(if too_big {
                reply(HttpResponse::page(
                    413,
                    &format!("the body is over {MAX_BODY} bytes"),
                ))
            } else {
                reply(HttpResponse::page(400, "the body could not be read"))
            });
        }
    };
    let Ok(body) = String::from_utf8(bytes.to_vec()) else {
        return Ok(reply(HttpResponse::page(400, "the body is not UTF-8 text")));
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let (tx, rx) = oneshot::channel();
    if events.send(Event::Http(request, tx)).is_err() {
        return Ok(reply(HttpResponse::page(503, "the server is stopping")));
    }
    Ok(match rx.await {
        Ok(r) => reply(r),
        Err(_) => reply(HttpResponse::page(503, "the server is stopping")),
    })
}

fn reply(r: HttpResponse) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(r.body)))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the handler's response headers are not valid HTTP");
            let mut bad = Response::new(Full::new(Bytes::from_static(b"bad response headers\n")));
            *bad.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            bad
        })
}
