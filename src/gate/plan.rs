//! The production rollback / rehearsal plan: a Markdown file its author
//! writes, which holdfast checks for six required sections, and a template
//! pre-filled from the run's surfaces and boundaries.
//!
//! A section is an ATX heading (`#` to `######`, outside code fences) whose
//! text, after optional leading numbers, begins with the section name (case,
//! hyphens and punctuation ignored: "2. Before-state capture (read-only)"
//! counts). Its body runs to the next heading of the same or a higher level.
//! The body must have at least one line of content: blank lines, HTML
//! comments and headings do not count, and a line starting with `TODO` or
//! `TBD` (after a list marker) is a placeholder that makes the section
//! unfinished.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsio;

/// The six required sections, in the order they are reported.
pub const SECTIONS: [&str; 6] = [
    "Before-state capture",
    "Mutation boundary",
    "Rollback trigger",
    "Rollback action",
    "Verification",
    "Forbidden fail-open cases",
];

/// Largest plan holdfast reads.
pub const PLAN_LIMIT: u64 = 4 * 1024 * 1024;

/// How one required section fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SectionStatus {
    /// Heading found, body has content, no placeholder left.
    Present,
    /// No heading for it.
    Missing,
    /// Heading found, body has no content.
    Empty,
    /// Body still has TODO/TBD placeholders.
    Unfinished,
    /// More than one heading for it (which one counts would be a guess).
    Duplicate,
}

/// One required section's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionCheck {
    /// Required section name.
    pub name: String,
    /// What was found.
    pub status: SectionStatus,
    /// 1-based line of its (first) heading.
    pub line: Option<usize>,
    /// Lines of content in its body.
    pub content_lines: usize,
    /// Placeholder lines in its body.
    pub todo_lines: usize,
}

/// The result of checking a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanReport {
    /// One check per required section, in [`SECTIONS`] order.
    pub sections: Vec<SectionCheck>,
    /// One line per problem (empty when complete).
    pub problems: Vec<String>,
    /// Every section present and filled in.
    pub complete: bool,
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Heading level and text of an ATX heading line.
fn heading(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let text = &rest[level..];
    if !(text.is_empty() || text.starts_with(' ') || text.starts_with('\t')) {
        return None;
    }
    Some((level, text.trim().trim_end_matches('#').trim()))
}

fn section_of(text: &str) -> Option<usize> {
    let mut w = words(text);
    while w
        .first()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        w.remove(0);
    }
    SECTIONS.iter().position(|name| {
        let n = words(name);
        w.len() >= n.len() && w[..n.len()] == n[..]
    })
}

fn is_placeholder(line: &str) -> bool {
    let t = line.trim_start();
    let t = t
        .strip_prefix("- ")
        .or_else(|| t.strip_prefix("* "))
        .or_else(|| t.strip_prefix("+ "))
        .unwrap_or(t);
    let t = match t.split_once(". ") {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => t,
    };
    let t = t
        .trim_start()
        .trim_start_matches(['*', '_', '[', ' '])
        .to_uppercase();
    t.starts_with("TODO") || t.starts_with("TBD")
}

/// Checks a plan's text. Pure.
pub fn check(text: &str) -> PlanReport {
    #[derive(Clone, Copy)]
    enum Line<'a> {
        Heading(usize, &'a str),
        Content,
        Placeholder,
        Nothing,
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut fence: Option<&str> = None;
    let mut in_comment = false;
    for raw in text.lines() {
        let t = raw.trim();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            lines.push(Line::Content);
            continue;
        }
        if in_comment {
            if t.contains("-->") {
                in_comment = false;
            }
            lines.push(Line::Nothing);
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            lines.push(Line::Content);
            continue;
        }
        if t.starts_with("<!--") {
            in_comment = !t.contains("-->");
            lines.push(Line::Nothing);
            continue;
        }
        lines.push(match heading(raw) {
            Some((level, text)) => Line::Heading(level, text),
            None if t.is_empty() => Line::Nothing,
            None if is_placeholder(raw) => Line::Placeholder,
            None => Line::Content,
        });
    }

    let mut found: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); SECTIONS.len()];
    for (i, l) in lines.iter().enumerate() {
        let Line::Heading(level, text) = *l else {
            continue;
        };
        let Some(s) = section_of(text) else {
            continue;
        };
        let (mut content, mut todo) = (0, 0);
        for next in &lines[i + 1..] {
            match next {
                Line::Heading(l2, _) if *l2 <= level => break,
                Line::Content => content += 1,
                Line::Placeholder => todo += 1,
                _ => {}
            }
        }
        found[s].push((i + 1, content, todo));
    }

    let mut sections = Vec::new();
    let mut problems = Vec::new();
    for (s, name) in SECTIONS.iter().enumerate() {
        let hits = &found[s];
        let (status, line, content, todo) = match hits.as_slice() {
            [] => (SectionStatus::Missing, None, 0, 0),
            [(line, c, t)] => {
                let st = if *t > 0 {
                    SectionStatus::Unfinished
                } else if *c == 0 {
                    SectionStatus::Empty
                } else {
                    SectionStatus::Present
                };
                (st, Some(*line), *c, *t)
            }
            [(line, c, t), ..] => (SectionStatus::Duplicate, Some(*line), *c, *t),
        };
        match status {
            SectionStatus::Present => {}
            SectionStatus::Missing => {
                problems.push(format!("section \"{name}\": no heading for it"))
            }
            SectionStatus::Empty => problems.push(format!(
                "section \"{name}\" (line {}): empty",
                line.unwrap_or(0)
            )),
            SectionStatus::Unfinished => problems.push(format!(
                "section \"{name}\" (line {}): {todo} TODO/TBD placeholder(s) left",
                line.unwrap_or(0)
            )),
            SectionStatus::Duplicate => problems.push(format!(
                "section \"{name}\": {} headings for it (lines {})",
                hits.len(),
                hits.iter()
                    .map(|h| h.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        sections.push(SectionCheck {
            name: name.to_string(),
            status,
            line,
            content_lines: content,
            todo_lines: todo,
        });
    }
    PlanReport {
        complete: problems.is_empty(),
        sections,
        problems,
    }
}

/// Reads and checks the plan at `path` (UTF-8, at most [`PLAN_LIMIT`] bytes).
pub fn check_file(path: &Path) -> Result<PlanReport> {
    let bytes = fsio::read_regular(path, PLAN_LIMIT)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let (line, col) = crate::tomlio::line_col(&bytes, e.valid_up_to());
        Error::malformed(path, format!("line {line}, column {col}: not valid UTF-8"))
    })?;
    Ok(check(text))
}

/// A surface, as the template lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSurface {
    /// Surface id.
    pub id: String,
    /// Surface name.
    pub name: String,
    /// How its before-state is captured (`files`, `command`, `postgres`), or
    /// `None` when it has no read-only snapshot method.
    pub snapshot: Option<String>,
}

/// A boundary (forbidden action class), as the template lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanBoundary {
    /// Boundary id.
    pub id: String,
    /// What it forbids, in words.
    pub description: String,
    /// Surface ids it covers.
    pub surfaces: Vec<String>,
}

/// An authorized mutation, as the template lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMutation {
    /// What it is, e.g. `registry fold 442..461`.
    pub description: String,
    /// The surface it changes.
    pub surface: String,
    /// The command that undoes it, when there is one.
    pub rollback: Option<String>,
}

/// What the template is pre-filled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanInputs {
    /// The run's title or macro.
    pub title: String,
    /// Surfaces of the inventory.
    pub surfaces: Vec<PlanSurface>,
    /// Boundaries.
    pub boundaries: Vec<PlanBoundary>,
    /// Authorized mutations (empty: read-only).
    pub mutations: Vec<PlanMutation>,
}

/// The plan template, pre-filled from `inputs`. Every part that needs a
/// human is a TODO line, so an unfilled template fails [`check`].
pub fn template(inputs: &PlanInputs) -> String {
    let mut o = String::new();
    let title = if inputs.title.trim().is_empty() {
        "this run"
    } else {
        inputs.title.trim()
    };
    o.push_str(&format!(
        "# Production rollback / rehearsal plan: {title}\n\n"
    ));
    o.push_str(
        "Design only: `holdfast plan check` checks this plan, nothing runs it.\n\
         Replace every TODO line; a section that is empty or still has a TODO fails the check.\n\n",
    );

    o.push_str("## Before-state capture\n\n");
    if inputs.surfaces.is_empty() {
        o.push_str("- TODO: list each surface and how its before-state is captured read-only.\n");
    } else {
        o.push_str("Read-only snapshots taken before the run (`holdfast snapshot`):\n\n");
        for s in &inputs.surfaces {
            match &s.snapshot {
                Some(m) => o.push_str(&format!("- `{}` ({}): {m} snapshot digest\n", s.id, s.name)),
                None => o.push_str(&format!(
                    "- `{}` ({}): no read-only snapshot method; can only be declared not contacted\n",
                    s.id, s.name
                )),
            }
        }
    }

    o.push_str("\n## Mutation boundary\n\n");
    if inputs.mutations.is_empty() {
        o.push_str("The run is read-only: no mutation is authorized.\n");
    } else {
        o.push_str("The only mutations this run may perform:\n\n");
        for m in &inputs.mutations {
            o.push_str(&format!("- {} on `{}`\n", m.description, m.surface));
        }
    }
    if inputs.boundaries.is_empty() {
        o.push_str("\n- TODO: list the forbidden action classes and the surfaces each covers.\n");
    } else {
        o.push_str("\nForbidden action classes and the surfaces each covers:\n\n");
        for b in &inputs.boundaries {
            let covered = b
                .surfaces
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ");
            o.push_str(&format!("- `{}` ({}): {covered}\n", b.id, b.description));
        }
    }

    o.push_str("\n## Rollback trigger\n\n");
    o.push_str("- TODO: the observations that start a rollback (a failed verify, a CHANGED surface, ...).\n");

    o.push_str("\n## Rollback action\n\n");
    for m in &inputs.mutations {
        if let Some(cmd) = &m.rollback {
            o.push_str(&format!("- undo {}: `{cmd}`\n", m.description));
        }
    }
    o.push_str("- TODO: who runs the rollback, and the exact commands.\n");

    o.push_str("\n## Verification\n\n");
    o.push_str("- `holdfast verify PACKET` passes inside the packet.\n");
    if !inputs.surfaces.is_empty() {
        o.push_str("- A new snapshot of every surface above equals its before-state digest.\n");
    }
    o.push_str("- TODO: what else proves the rollback worked.\n");

    o.push_str("\n## Forbidden fail-open cases\n\n");
    o.push_str("- A gate that exits 0, or prints the pass token, on input it cannot read.\n");
    o.push_str("- A missing, unknown or unreadable surface treated as untouched.\n");
    for b in &inputs.boundaries {
        o.push_str(&format!(
            "- `{}` acted on while the proof of a surface it covers is missing or CHANGED.\n",
            b.id
        ));
    }
    o.push_str("- TODO: cases specific to this run.\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> String {
        let mut s = String::from("# Plan\n\n");
        for (i, name) in SECTIONS.iter().enumerate() {
            s.push_str(&format!("## {}. {name}\n\nSomething real.\n\n", i + 1));
        }
        s
    }

    #[test]
    fn a_complete_plan_passes() {
        let r = check(&full());
        assert!(r.complete, "{:?}", r.problems);
        assert!(
            r.sections
                .iter()
                .all(|s| s.status == SectionStatus::Present)
        );
    }

    #[test]
    fn missing_empty_unfinished_and_duplicate_sections_fail() {
        let missing = full().replace("## 3. Rollback trigger", "## Something else");
        let r = check(&missing);
        assert!(!r.complete);
        assert_eq!(r.sections[2].status, SectionStatus::Missing);
        assert!(
            r.problems[0].contains("Rollback trigger"),
            "{:?}",
            r.problems
        );

        let empty = full().replace(
            "## 6. Forbidden fail-open cases\n\nSomething real.\n",
            "## 6. Forbidden fail-open cases\n\n<!-- later -->\n",
        );
        assert_eq!(check(&empty).sections[5].status, SectionStatus::Empty);

        let todo = full().replacen("Something real.", "- TODO: write", 1);
        assert_eq!(check(&todo).sections[0].status, SectionStatus::Unfinished);

        let dup = format!("{}## Verification\n\nagain\n", full());
        assert_eq!(check(&dup).sections[4].status, SectionStatus::Duplicate);
    }

    #[test]
    fn headings_in_code_fences_and_subsections_are_handled() {
        let fenced = full().replace("## 4. Rollback action", "```\n## 4. Rollback action\n```");
        assert_eq!(check(&fenced).sections[3].status, SectionStatus::Missing);
        // Content under a deeper subheading belongs to the section.
        let sub = full().replace(
            "## 5. Verification\n\nSomething real.\n",
            "## 5. Verification\n\n### Checks\n\n- verify passes\n",
        );
        assert_eq!(check(&sub).sections[4].status, SectionStatus::Present);
        // A body that ends at the next same-level heading is empty.
        let cut = full().replace(
            "## 2. Mutation boundary\n\nSomething real.\n",
            "## 2. Mutation boundary\n",
        );
        assert_eq!(check(&cut).sections[1].status, SectionStatus::Empty);
        // Headings need the space after the hashes.
        let tight = full().replace("## 1. Before-state capture", "##Before-state capture");
        assert_eq!(check(&tight).sections[0].status, SectionStatus::Missing);
    }

    #[test]
    fn the_template_is_prefilled_and_fails_until_filled_in() {
        let inputs = PlanInputs {
            title: "FIX7".into(),
            surfaces: vec![
                PlanSurface {
                    id: "pg".into(),
                    name: "Production PG".into(),
                    snapshot: Some("postgres".into()),
                },
                PlanSurface {
                    id: "ci".into(),
                    name: "CI".into(),
                    snapshot: None,
                },
            ],
            boundaries: vec![PlanBoundary {
                id: "production-mutation".into(),
                description: "no production mutation".into(),
                surfaces: vec!["pg".into()],
            }],
            mutations: vec![PlanMutation {
                description: "registry fold 442..461".into(),
                surface: "registry".into(),
                rollback: Some(
                    "holdfast registry rollback governance-fold-442-461-result.json".into(),
                ),
            }],
        };
        let t = template(&inputs);
        assert!(
            t.contains("`pg` (Production PG): postgres snapshot digest"),
            "{t}"
        );
        assert!(t.contains("holdfast registry rollback"), "{t}");
        let r = check(&t);
        assert!(!r.complete);
        assert_eq!(r.sections[0].status, SectionStatus::Present);
        assert_eq!(r.sections[1].status, SectionStatus::Present);
        assert_eq!(r.sections[2].status, SectionStatus::Unfinished);
        let filled = t
            .lines()
            .map(|l| if l.contains("TODO") { "- done" } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(check(&filled).complete, "{:?}", check(&filled).problems);
        assert_eq!(template(&inputs), t, "deterministic");
        assert!(!check(&template(&PlanInputs::default())).complete);
    }
}
