//! Text a spec gives for a packet to show (titles, descriptions, labels,
//! the authorization's words) is plain text on one line.
//!
//! A packet's README and `index.html` show these words to a reviewer who
//! never saw the spec, and the spec may be written by the agent the packet
//! governs. A newline in a title would let it start a Markdown heading of
//! its own ("## Production decision: GO") under the packet's real one; a
//! bidirectional override or an invisible character makes a text read
//! otherwise than its bytes say ("Trojan Source"). So every spec string
//! holdfast may show is refused when it holds one; what is program input
//! (a command's argv, a probe's standard input) is never shown as text and
//! may hold anything.

use serde_json::Value;

/// The characters a shown text may not hold, and why, for the message.
pub fn hidden_char(text: &str) -> Option<(char, &'static str)> {
    text.chars().find_map(|c| {
        if c.is_control() {
            Some((c, "a control character (a line break, tab or escape)"))
        } else if BIDI_CONTROLS.contains(&c) {
            Some((c, "a bidirectional control character"))
        } else if INVISIBLE.contains(&c) {
            Some((c, "an invisible character"))
        } else {
            None
        }
    })
}

/// The Unicode bidirectional embedding, override and isolate controls, and
/// the implicit marks (they reorder how a line reads).
const BIDI_CONTROLS: [char; 12] = [
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Zero-width and invisible format characters (they split a word without
/// showing, so a token or an id can be spelled so that no search finds it).
const INVISIBLE: [char; 7] = [
    '\u{00AD}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{2061}', '\u{FEFF}',
];

/// Key names whose values are program input, never shown as text: a
/// command's argv (`argv`, `command`, a change's `rollback`) and a user
/// probe's standard input (`stdin_text`). A shell script in `sh -c` may
/// span lines.
pub const PROGRAM_INPUT_KEYS: [&str; 4] = ["argv", "command", "rollback", "stdin_text"];

/// The first string or key of a parsed spec (as JSON) that holds a
/// character [`hidden_char`] names, outside program input: its key path
/// (`option[2].title`; a key is named by its parent, `a key under
/// packet.labels`), the character and what it is. Keys are visited in
/// sorted order, so the answer does not depend on the input's order.
pub fn find_hidden_text(value: &Value) -> Option<(String, char, &'static str)> {
    super::token::find_string(value, &|key, _| PROGRAM_INPUT_KEYS.contains(&key), &|s| {
        hidden_char(s)
    })
    .map(|(at, (c, what))| (at, c, what))
}

/// The message for `c` found at `at`: names the character by code point
/// (it may not print) and says what to do.
pub fn refusal(at: &str, c: char, what: &str) -> String {
    format!(
        "{at}: holds {what} (U+{:04X}); a text a packet shows must be plain text on one line",
        c as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_and_hidden_characters_are_named() {
        assert_eq!(hidden_char("Rehearse — on staging (ü, 日本)"), None);
        assert_eq!(hidden_char("a\nb").map(|h| h.0), Some('\n'));
        assert_eq!(hidden_char("a\tb").map(|h| h.0), Some('\t'));
        assert_eq!(hidden_char("x\u{1b}[2Jy").map(|h| h.0), Some('\u{1b}'));
        assert_eq!(hidden_char("ab\u{202E}cd").map(|h| h.0), Some('\u{202E}'));
        assert_eq!(
            hidden_char("PRODUCTION\u{200B}_PASS").map(|h| h.0),
            Some('\u{200B}')
        );
        assert_eq!(hidden_char("\u{85}").map(|h| h.0), Some('\u{85}'));
    }

    #[test]
    fn the_search_names_the_key_path_and_skips_program_input() {
        let v = serde_json::json!({
            "packet": {"title": "ok"},
            "option": [{"title": "fine"}, {"title": "two\nlines"}],
            "probe": [{"command": ["sh", "-c", "a\nb"], "stdin_text": "x\ty"}],
        });
        let (at, c, _) = find_hidden_text(&v).unwrap();
        assert_eq!((at.as_str(), c), ("option[1].title", '\n'));
        let v = serde_json::json!({"probe": [{"command": ["sh", "-c", "a\nb"]}]});
        assert_eq!(find_hidden_text(&v), None);
        let v = serde_json::json!({"packet": {"labels": {"x\u{202E}": "y"}}});
        assert_eq!(
            find_hidden_text(&v).map(|h| h.0),
            Some("a key under packet.labels".into())
        );
    }

    #[test]
    fn the_message_names_the_code_point() {
        let (c, what) = hidden_char("a\nb").unwrap();
        assert_eq!(
            refusal("packet.title", c, what),
            "packet.title: holds a control character (a line break, tab or escape) (U+000A); \
             a text a packet shows must be plain text on one line"
        );
    }
}
