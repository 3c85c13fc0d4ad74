//! Property tests: printing then reading a value gives it back; arbitrary input
//! never panics the reader.

use lang::printer::repr;
use lang::reader::{read_all, read_one};
use lang::value::{equal, Value};
use proptest::prelude::*;

fn symbol_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_*!?<>=/+-][a-zA-Z0-9_*!?<>=/+.-]{0,10}".prop_filter("not a literal or number", |s| {
        !matches!(s.as_str(), "nil" | "true" | "false")
            && !s
                .trim_start_matches(['+', '-'])
                .starts_with(|c: char| c.is_ascii_digit())
    })
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        any::<String>().prop_map(|s| Value::str(&s)),
        symbol_name().prop_map(|s| Value::sym(&s)),
        symbol_name().prop_map(|s| Value::keyword(&s)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::list),
            prop::collection::vec((inner.clone(), inner), 0..6).prop_map(|pairs| {
                let mut d = lang::value::Dict::default();
                for (k, v) in pairs {
                    d.insert(k, v);
                }
                Value::dict(d)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_read_gives_the_value_back(v in value()) {
        let printed = repr(&v);
        let read = read_one(&printed, "prop").map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        let back = read.to_value();
        prop_assert!(equal(&v, &back), "{} read back as {}", printed, repr(&back));
        prop_assert_eq!(printed, repr(&back));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_all(&String::from_utf8_lossy(&bytes), "prop");
    }

    #[test]
    fn arbitrary_token_soup_never_panics_the_reader(parts in prop::collection::vec(
        prop_oneof![Just("("), Just(")"), Just("{"), Just("}"), Just("["), Just("]"), Just("\""), Just("'"),
                    Just("`"), Just(","), Just(",@"), Just(";"), Just("\n"), Just(" "), Just("\\"), Just("1"),
                    Just("-"), Just("1.5e3"), Just(":"), Just("abc"), Just("99999999999999999999"), Just("\\u{")],
        0..64)) {
        let _ = read_all(&parts.concat(), "prop");
    }
}
