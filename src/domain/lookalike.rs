//! What a name looks like, so that two names a person cannot tell apart
//! cannot both be used in one room (`Asha`, `Аsha` with a Cyrillic А,
//! fullwidth `Ａｓｈａ`, `AIice` with a capital I for `Alice`).
//!
//! Built on the confusables skeleton of Unicode Technical Standard #39
//! (the `unicode-security` crate): every character is mapped to the
//! prototype it is confusable with. Before that, compatibility
//! normalization (NFKC) turns fullwidth, circled, mathematical and
//! ligature forms into plain letters, and full case folding makes the
//! comparison case-insensitive, as names always were.
//!
//! Accents are visible, so the skeleton keeps them: `José` and `Jose` are
//! different names (but `José` typed with a combining accent is `José`).

use caseless::default_case_fold_str;
use unicode_normalization::UnicodeNormalization;
use unicode_security::skeleton;

/// The keys a name is compared by: two names clash when they share one.
///
/// - The case-insensitive key: NFKC, case fold, skeleton, case fold
///   again (a prototype may be a capital: `0` → `O`, so `b0b` is `bob`).
/// - The case-kept key: NFKC, skeleton. Folding first turns a capital `I`
///   into an `i`, which looks nothing like the `l` it imitates in `AIice`;
///   the skeleton of the name as typed still sees `I` → `l`.
///
/// Both are plain strings with no control characters, so they can be
/// joined with `\n` to travel to a shared directory.
pub fn keys(name: &str) -> Vec<String> {
    let compatible: String = name.nfkc().collect();
    let folded: String = skeleton(&default_case_fold_str(&compatible)).collect();
    let insensitive = default_case_fold_str(&folded);
    let kept: String = skeleton(&compatible).collect();
    if kept == insensitive { vec![insensitive] } else { vec![insensitive, kept] }
}

/// Characters that show nothing (or nothing of their own) and so could
/// make two names look the same: Unicode's Default_Ignorable_Code_Point
/// (zero-width space, joiner and non-joiner, word joiner, soft hyphen,
/// direction marks, variation selectors, tag characters, Hangul fillers,
/// …, as of Unicode 16), plus the blank braille pattern, which renders as
/// an empty cell.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clash(a: &str, b: &str) -> bool {
        let theirs = keys(b);
        keys(a).iter().any(|key| theirs.contains(key))
    }

    /// Each pair looks the same to a reader; the second is refused while
    /// the first is in the room (and the other way round).
    const LOOK_ALIKES: [(&str, &str, &str); 24] = [
        ("Asha", "\u{0410}sha", "Cyrillic capital A"),
        ("Asha", "\u{FF21}\u{FF53}\u{FF48}\u{FF41}", "fullwidth letters"),
        ("Asha", "ASHA", "another case"),
        ("Asha", "\u{0430}\u{0455}\u{04BB}\u{0430}", "all Cyrillic: а ѕ һ а"),
        ("Alice", "AIice", "capital I for small l"),
        ("Bob", "B0b", "digit zero for o"),
        ("Will", "Wi11", "digit one for l"),
        ("modern", "rnodern", "r n for m"),
        ("paypal", "p\u{0430}yp\u{0430}l", "Cyrillic small a"),
        ("José", "Jose\u{0301}", "a combining accent for a precomposed one"),
        ("Omar", "\u{039F}mar", "Greek capital Omicron"),
        ("Nina", "N\u{0456}na", "Cyrillic small i"),
        ("Kate", "\u{041A}ate", "Cyrillic capital Ka"),
        ("Emma", "\u{FF25}mma", "one fullwidth letter"),
        ("Leo", "\u{2112}eo", "script capital L"),
        ("Mia", "\u{1D40C}\u{1D422}\u{1D41A}", "mathematical bold"),
        ("Sam", "\u{24C8}am", "circled S"),
        ("finn", "\u{FB01}nn", "the fi ligature"),
        ("Hans", "\u{0397}ans", "Greek capital Eta"),
        ("Paul", "\u{03A1}aul", "Greek capital Rho"),
        ("Yara", "\u{03A5}ara", "Greek capital Upsilon"),
        ("Asha", "\u{A4EE}sha", "Lisu letter A"),
        ("Straße", "STRASSE", "sharp s folds to ss"),
        ("Ravi", "R\u{0430}vi", "Cyrillic small a inside"),
    ];

    /// Each pair differs in a way a reader sees; both may share a room.
    const DISTINCT: [(&str, &str); 24] = [
        ("Ana", "Anna"),
        ("José", "Jose"),
        ("Zoë", "Zoe"),
        ("Neil", "Nell"),
        ("Ali", "All"),
        ("Mark", "Marc"),
        ("Jon", "John"),
        ("Sara", "Sarah"),
        ("Asha", "Aasha"),
        ("Lena", "Léna"),
        ("Ivan", "Iván"),
        ("Chris", "Kris"),
        ("Eva", "Ava"),
        ("Dan", "Dana"),
        ("Asha", "Asha2"),
        ("Ben", "Ben 2"),
        ("Raj", "Raju"),
        ("Mohammed", "Muhammad"),
        ("Li", "Lu"),
        ("Søren", "Soren"),
        ("Ümit", "Umit"),
        ("Åsa", "Asa"),
        ("Анна", "Anna"),
        ("Tom", "Tim"),
    ];

    #[test]
    fn names_that_look_the_same_clash() {
        for (present, newcomer, how) in LOOK_ALIKES {
            assert!(clash(newcomer, present), "{newcomer:?} should clash with {present:?} ({how})");
            assert!(clash(present, newcomer), "{present:?} should clash with {newcomer:?} ({how})");
        }
    }

    #[test]
    fn names_that_look_different_do_not_clash() {
        for (present, newcomer) in DISTINCT {
            assert!(!clash(newcomer, present), "{newcomer:?} should not clash with {present:?}");
        }
    }

    #[test]
    fn a_name_clashes_with_itself() {
        assert!(clash("Zoë 🚀", "Zoë 🚀"));
    }

    #[test]
    fn a_plain_lower_case_name_has_a_single_key() {
        assert_eq!(keys("asha"), vec!["asha".to_owned()]);
    }

    #[test]
    fn zero_width_and_other_ignorable_characters_are_invisible() {
        for c in ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{00AD}', '\u{FE0F}'] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        assert!(is_invisible('\u{E0041}'), "tag characters");
        assert!(is_invisible('\u{E0100}'), "supplementary variation selectors");
    }

    #[test]
    fn letters_digits_spaces_and_emoji_are_visible() {
        assert!(!"Asha Zoë 7 अ 🚀 名".chars().any(is_invisible));
    }
}
