//! The text front end never panics: random token soups parse or fail with an error
//! that names a line and column.

use proptest::prelude::*;

const TOKENS: [&str; 30] = [
    ".decl",
    ".input",
    ".output",
    ".printsize",
    ".type",
    "edge",
    "path",
    "x",
    "y",
    "_",
    "(",
    ")",
    ",",
    ".",
    ":-",
    "!",
    "=",
    "<",
    "+",
    "/",
    "count",
    "sum",
    ":",
    "{",
    "}",
    "\"s",
    "\"ok\"",
    "1",
    "number",
    "/*",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_parses_or_reports_a_position(toks in proptest::collection::vec(0..TOKENS.len(), 0..40)) {
        let src: Vec<&str> = toks.iter().map(|&i| TOKENS[i]).collect();
        let src = src.join(" ");
        let mut db = datalog::Database::new();
        if let Err(e) = db.add_rules(&src, "soup.dl") {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("soup.dl:"), "{msg}");
        } else {
            let _ = db.explain();
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,80}") {
        let _ = datalog::parse_program(&src, "any.dl");
    }
}
