//! The bounds every GraphQL document passes before the parser, the
//! validator or the executor sees it, on every transport (HTTP and the
//! WebSocket alike): how large, how deeply nested, how many fields once
//! fragments are expanded, how many aliases.
//!
//! The parser (pest) and parts of the validator recurse once per level of
//! nesting of lists, objects, selections, argument lists and list types, so
//! nesting is counted by a lexical scan of the text, before any parse: a
//! 4 KB document of 2,000 nested lists must cost a loop over 4 KB, not a
//! stack. Fragments are counted after expansion (a chain of fragments that
//! each spread the previous one twice doubles per fragment), with the
//! expansion itself computed once per fragment, iteratively.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use std::collections::HashMap;

/// Largest query text (the HTTP body limit bounds it too; a WebSocket
/// message is bounded by this).
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Deepest nesting of `{`, `[` and `(` (selections, list and object
/// values, argument lists, list types). The schema's own limit on selection
/// depth is [`crate::MAX_DEPTH`]; this one is about the shapes the schema
/// limits never see.
pub const MAX_NESTING: usize = 32;
/// Most fields a document may select once every fragment is expanded.
pub const MAX_FIELDS: u64 = 2_000;
/// Most aliased fields, once every fragment is expanded.
pub const MAX_ALIASES: u64 = 30;

/// Why a document was refused before it was parsed or executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    TooDeep,
    TooManyFields,
    TooManyAliases,
    /// `__schema` / `__type` for a caller who may not read the schema.
    Introspection,
}

impl Refusal {
    /// The `extensions.code`: a document that nests too deeply cannot be
    /// parsed here; the others parse but are not valid for this server.
    pub fn code(self) -> domain::ErrorCode {
        match self {
            Refusal::TooLarge | Refusal::TooDeep => domain::ErrorCode::GraphqlParseFailed,
            Refusal::TooManyFields | Refusal::TooManyAliases | Refusal::Introspection => {
                domain::ErrorCode::GraphqlValidationFailed
            }
        }
    }

    pub fn message(self) -> String {
        match self {
            Refusal::TooLarge => {
                format!("the query is longer than {MAX_QUERY_BYTES} bytes")
            }
            Refusal::TooDeep => format!(
                "the query nests lists, objects, selections or arguments deeper than {MAX_NESTING} levels"
            ),
            Refusal::TooManyFields => format!(
                "the query selects more than {MAX_FIELDS} fields once its fragments are expanded"
            ),
            Refusal::TooManyAliases => format!("a query may use at most {MAX_ALIASES} aliases"),
            Refusal::Introspection => {
                "introspection is not available to you; the schema is published as graphql/schema.graphql".into()
            }
        }
    }

    pub fn into_server_error(self) -> async_graphql::ServerError {
        let mut error = async_graphql::ServerError::new(self.message(), None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", self.code().as_str());
        error
    }
}

/// What the screen learned about a document it let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screened {
    /// False when the text is not GraphQL; the executor reports the syntax
    /// error (the document is small and shallow by then).
    pub parses: bool,
    pub fields: u64,
    pub aliases: u64,
    /// The document selects `__schema` or `__type` somewhere.
    pub introspects: bool,
}

/// Checks a request's document against every bound, parsing it (once: the
/// parsed document stays in the request for the executor) only after the
/// lexical bounds hold.
pub fn screen(request: &mut async_graphql::Request) -> Result<Screened, Refusal> {
    if request.query.len() > MAX_QUERY_BYTES {
        return Err(Refusal::TooLarge);
    }
    if nesting(&request.query) > MAX_NESTING {
        return Err(Refusal::TooDeep);
    }
    let Ok(doc) = request.parsed_query() else {
        return Ok(Screened {
            parses: false,
            fields: 0,
            aliases: 0,
            introspects: false,
        });
    };
    let cost = document_cost(doc);
    if cost.fields > MAX_FIELDS {
        return Err(Refusal::TooManyFields);
    }
    if cost.aliases > MAX_ALIASES {
        return Err(Refusal::TooManyAliases);
    }
    let introspects = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .any(selects_introspection);
    Ok(Screened {
        parses: true,
        fields: cost.fields,
        aliases: cost.aliases,
        introspects,
    })
}

/// Bounded by [`MAX_NESTING`] like [`selection_cost`].
fn selects_introspection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => {
            matches!(f.node.name.node.as_str(), "__schema" | "__type")
                || selects_introspection(&f.node.selection_set.node)
        }
        Selection::InlineFragment(i) => selects_introspection(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

/// The deepest nesting of `{`, `[` and `(` outside strings and comments,
/// following the GraphQL lexer: `"…"` strings (with `\` escapes, ended by a
/// line terminator when unterminated), `"""…"""` block strings (`\"""` is
/// an escaped delimiter), `#` comments to the end of the line.
pub fn nesting(src: &str) -> usize {
    let b = src.as_bytes();
    let (mut i, mut depth, mut deepest) = (0usize, 0usize, 0usize);
    while let Some(&c) = b.get(i) {
        match c {
            b'#' => {
                while b.get(i).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                i += 3;
                loop {
                    match b.get(i) {
                        None => break,
                        Some(b'\\') if b[i + 1..].starts_with(b"\"\"\"") => i += 4,
                        Some(b'"') if b[i..].starts_with(b"\"\"\"") => {
                            i += 3;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') | Some(b'\r') => break,
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    deepest
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    fields: u64,
    aliases: u64,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// Fields and aliases of every operation with fragments expanded. Each
/// fragment's expansion is computed once (depth-first over the spread
/// graph with an explicit stack, so a chain of thousands of fragments uses
/// no call stack); a spread into a cycle counts nothing here, and the
/// validator refuses the cycle.
fn document_cost(doc: &ExecutableDocument) -> Cost {
    enum Mark {
        Open,
        Done(Cost),
    }
    let mut marks: HashMap<&str, Mark> = HashMap::with_capacity(doc.fragments.len());
    for start in doc.fragments.keys() {
        let mut stack: Vec<(&str, bool)> = vec![(start.as_str(), false)];
        while let Some((name, children_done)) = stack.pop() {
            let Some(fragment) = doc.fragments.get(name) else {
                continue;
            };
            if children_done {
                let cost = selection_cost(&fragment.node.selection_set.node, &|spread| match marks
                    .get(spread)
                {
                    Some(Mark::Done(c)) => *c,
                    _ => Cost::default(),
                });
                marks.insert(name, Mark::Done(cost));
                continue;
            }
            if marks.contains_key(name) {
                continue;
            }
            marks.insert(name, Mark::Open);
            stack.push((name, true));
            let mut spreads = Vec::new();
            spread_names(&fragment.node.selection_set.node, &mut spreads);
            for spread in spreads {
                if !marks.contains_key(spread) {
                    stack.push((spread, false));
                }
            }
        }
    }
    let lookup = |spread: &str| match marks.get(spread) {
        Some(Mark::Done(c)) => *c,
        _ => Cost::default(),
    };
    doc.operations
        .iter()
        .map(|(_, op)| selection_cost(&op.node.selection_set.node, &lookup))
        .fold(Cost::default(), Cost::add)
}

/// Recurses once per selection level: bounded by [`MAX_NESTING`], which
/// the lexical scan checked before the document was parsed.
fn selection_cost(set: &SelectionSet, fragment: &dyn Fn(&str) -> Cost) -> Cost {
    set.items.iter().fold(Cost::default(), |acc, item| {
        let here = match &item.node {
            Selection::Field(f) => Cost {
                fields: 1,
                aliases: u64::from(f.node.alias.is_some()),
            }
            .add(selection_cost(&f.node.selection_set.node, fragment)),
            Selection::InlineFragment(i) => selection_cost(&i.node.selection_set.node, fragment),
            Selection::FragmentSpread(s) => fragment(s.node.fragment_name.node.as_str()),
        };
        acc.add(here)
    })
}

fn spread_names<'a>(set: &'a SelectionSet, out: &mut Vec<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => spread_names(&f.node.selection_set.node, out),
            Selection::InlineFragment(i) => spread_names(&i.node.selection_set.node, out),
            Selection::FragmentSpread(s) => out.push(s.node.fragment_name.node.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn screen_text(q: &str) -> Result<Screened, Refusal> {
        screen(&mut async_graphql::Request::new(q))
    }

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a }"), 1);
        assert_eq!(nesting("{ a(x: [[1]]) { b } }"), 4);
        assert_eq!(nesting(r#"{ a(x: "[[[[{{{{((") }"#), 2);
        assert_eq!(nesting(r#"{ a(x: "\"[[[") }"#), 2);
        assert_eq!(nesting("{ a # [[[[[[\n }"), 1);
        assert_eq!(nesting(r#"{ a(x: """ [[[ \""" [[[ """) }"#), 2);
        // An unterminated string ends at the line: what follows counts.
        assert_eq!(nesting("{ a(x: \"abc\n[[[ ) }"), 5);
        assert_eq!(nesting("query($v: [[[Int]]]) { a }"), 4);
        assert_eq!(nesting("]]]]{"), 1);
    }

    #[test]
    fn deep_literals_are_refused_before_parsing() {
        let deep = |open: &str, close: &str, n: usize| {
            format!(
                "{{claim(id:{}\"x\"{}){{id}}}}",
                open.repeat(n),
                close.repeat(n)
            )
        };
        for (open, close) in [("[", "]"), ("{a:", "}")] {
            assert_eq!(
                screen_text(&deep(open, close, 5_000)),
                Err(Refusal::TooDeep)
            );
            assert!(screen_text(&deep(open, close, 3)).is_ok());
        }
        let selections = format!("{}{}", "{a".repeat(50_000), "}".repeat(50_000));
        assert_eq!(screen_text(&selections), Err(Refusal::TooLarge));
        let selections = format!("{}{}", "{a".repeat(2_000), "}".repeat(2_000));
        assert_eq!(screen_text(&selections), Err(Refusal::TooDeep));
        let types = format!(
            "query($v:{}Int{}){{a}}",
            "[".repeat(2_000),
            "]".repeat(2_000)
        );
        assert_eq!(screen_text(&types), Err(Refusal::TooDeep));
    }

    #[test]
    fn fragments_count_once_expanded() {
        let mut q = String::from("{ ...F24 }\nfragment F0 on QueryRoot { __typename }\n");
        for n in 1..=24 {
            q.push_str(&format!(
                "fragment F{n} on QueryRoot {{ __typename ...F{p} ...F{p} }}\n",
                p = n - 1
            ));
        }
        assert_eq!(screen_text(&q), Err(Refusal::TooManyFields));
        // A chain far longer than any call stack could follow.
        let mut q = String::from("{ ...F0 }\n");
        for n in 0..1_500 {
            q.push_str(&format!("fragment F{n} on Q {{ ...F{} }}\n", n + 1));
        }
        q.push_str("fragment F1500 on Q { a }\n");
        let s = screen(&mut async_graphql::Request::new(q)).unwrap();
        assert_eq!(s.fields, 1);
        // A cycle ends the count (the validator refuses it).
        let s = screen_text("{ ...A } fragment A on Q { a ...B } fragment B on Q { b ...A }");
        assert!(s.is_ok_and(|s| (1..=2).contains(&s.fields)));
    }

    #[test]
    fn aliases_count_once_expanded() {
        let one = screen_text("{ ...F ...F } fragment F on Q { a1: a a2: a }").unwrap();
        assert_eq!((one.fields, one.aliases), (4, 4));
        let spread = format!("{{ {} }} fragment F on Q {{ x: a }}", "...F ".repeat(31));
        assert_eq!(screen_text(&spread), Err(Refusal::TooManyAliases));
    }
}
