//! Classes that attack holdfast's JSON and TOML readers: malformed,
//! duplicated, oversized, deeply nested and forged inputs.

use super::*;

const JSON: &[&str] = &["verdict-good-evidence", "gates-select-good-spec"];

/// The classes of this family, each with the builder of its bad inputs.
pub(super) fn classes() -> Vec<ClassDef> {
    vec![
        class(
            "malformed-json",
            "malformed or truncated JSON inputs",
            &["verdict"],
            JSON,
            malformed_json,
        ),
        class(
            "duplicate-json-keys",
            "JSON inputs with duplicate keys",
            &["verdict"],
            JSON,
            duplicate_keys,
        ),
        class(
            "huge-or-deep-input",
            "oversized or deeply nested inputs (bounded, no crash)",
            &["verdict"],
            MANY,
            huge_or_deep,
        ),
        class(
            "forged-status",
            "the pass token or a _READY status placed in an input field",
            &["verdict"],
            MANY,
            forged_status,
        ),
    ]
}

pub(super) fn malformed_json(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let good = json_bytes(&evidence(fx)?)?;
    let text = String::from_utf8_lossy(&good).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "truncated",
            "evidence JSON cut in half",
            &good[..good.len() / 2],
            &[3],
        )?,
        verdict_case(
            fx,
            "not-json",
            "evidence that is not JSON",
            b"sealed: yes\n",
            &[3],
        )?,
        verdict_case(
            fx,
            "invalid-utf8",
            "evidence with invalid UTF-8 in a string",
            b"{\"status_prefix\": \"\xff\"}\n",
            &[3],
        )?,
        verdict_case(
            fx,
            "trailing-garbage",
            "evidence JSON followed by garbage",
            format!("{text}x").as_bytes(),
            &[3],
        )?,
        verdict_case(fx, "empty-file", "an empty evidence file", b"", &[3])?,
        verdict_case(
            fx,
            "byte-order-mark",
            "evidence JSON behind a byte-order mark",
            format!("\u{feff}{text}").as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "comment",
            "evidence JSON with a comment",
            format!("// ok\n{text}").as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "wrong-type",
            "evidence with \"sealed\": \"yes\"",
            text.replacen("\"sealed\": true", "\"sealed\": \"yes\"", 1)
                .as_bytes(),
            &[3],
        )?,
    ];
    let mut e = evidence(fx)?;
    if let Some(m) = e.as_object_mut() {
        m.remove("verified");
    }
    v.push(verdict_case(
        fx,
        "missing-field",
        "evidence without its \"verified\" field",
        &json_bytes(&e)?,
        &[3],
    )?);
    let facts = json_bytes(&fx.facts_value)?;
    v.push(gates_case(
        fx,
        "facts-truncated",
        "a truncated --facts file",
        &[3],
        |d| wr(&d.join("facts.json"), &facts[..facts.len() / 2]),
    )?);
    let report = json_bytes(&fx.report_value)?;
    v.push(gates_case(
        fx,
        "report-truncated",
        "a truncated --probe-report file",
        &[3],
        |d| wr(&d.join("probe-report.json"), &report[..report.len() / 2]),
    )?);
    Ok(v)
}

pub(super) fn duplicate_keys(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let text = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).into_owned();
    let failing = String::from_utf8_lossy(&json_bytes(&failing_evidence(fx)?)?).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "top-level",
            "\"sealed\": false, then \"sealed\": true",
            text.replacen('{', "{\"sealed\": false,", 1).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "last-wins-attempt",
            "failing evidence with \"sealed\": true appended as a duplicate",
            failing.replacen('{', "{\"sealed\": true,", 1).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "nested",
            "authorization.scope given twice",
            text.replacen(
                "\"scope\": \"production\"",
                "\"scope\": \"scoping\", \"scope\": \"production\"",
                1,
            )
            .as_bytes(),
            &[3],
        )?,
    ];
    let facts = String::from_utf8_lossy(&json_bytes(&fx.facts_value)?).into_owned();
    v.push(gates_case(
        fx,
        "facts",
        "a --facts file with \"proof\" twice",
        &[3],
        |d| {
            wr(
                &d.join("facts.json"),
                facts.replacen('{', "{\"proof\": null,", 1).as_bytes(),
            )
        },
    )?);
    let report = String::from_utf8_lossy(&json_bytes(&fx.report_value)?).into_owned();
    v.push(gates_case(
        fx,
        "report",
        "a --probe-report with \"all_fail_closed\" twice",
        &[3],
        |d| {
            wr(
                &d.join("probe-report.json"),
                report
                    .replacen('{', "{\"all_fail_closed\": true,", 1)
                    .as_bytes(),
            )
        },
    )?);
    Ok(v)
}

pub(super) fn huge_or_deep(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let n = 200_000;
    let text = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).into_owned();
    let mut v = vec![
        verdict_case(
            fx,
            "deep-arrays",
            "200,000 nested JSON arrays",
            "[".repeat(n).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "deep-objects",
            "200,000 nested JSON objects",
            "{\"a\":".repeat(n).as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "deep-in-a-field",
            "a deeply nested value inside a good evidence file",
            text.replacen(
                "\"missing_artifacts\": []",
                &format!("\"missing_artifacts\": {}{}", "[".repeat(n), "]".repeat(n)),
                1,
            )
            .as_bytes(),
            &[3],
        )?,
        verdict_case(
            fx,
            "long-string",
            "a 1 MiB status prefix",
            text.replacen(
                "\"PROBE_FIXTURE\"",
                &format!("\"{}\"", "A".repeat(1 << 20)),
                1,
            )
            .as_bytes(),
            &[3],
        )?,
    ];
    let d = fx.case_dir("oversized-evidence")?;
    let p = d.join("evidence.json");
    sparse(&p, crate::gate::verdict::EVIDENCE_LIMIT + 1)?;
    v.push(cs(
        "oversized-evidence",
        "an evidence file one byte over the limit",
        vec!["verdict".into(), s(&p)],
        &[3],
    ));

    v.push(gates_case(
        fx,
        "oversized-spec",
        "a gates.toml one byte over the limit",
        &[3],
        |d| sparse(&d.join(SPEC_FILE), crate::tomlio::SPEC_LIMIT + 1),
    )?);
    v.push(gates_case(
        fx,
        "deep-toml",
        "200,000 nested TOML arrays in gates.toml",
        &[3],
        |d| {
            wr(
                &d.join(SPEC_FILE),
                format!("x = {}{}\n", "[".repeat(n), "]".repeat(n)).as_bytes(),
            )
        },
    )?);
    v.push(gates_case(
        fx,
        "deep-facts",
        "200,000 nested arrays in the --facts file",
        &[3],
        |d| wr(&d.join("facts.json"), "[".repeat(n).as_bytes()),
    )?);
    let d = fx.case_dir("oversized-plan")?;
    let p = d.join(PLAN_FILE);
    sparse(&p, plan::PLAN_LIMIT + 1)?;
    v.push(cs(
        "oversized-plan",
        "a rollback plan one byte over the limit",
        vec!["plan".into(), "check".into(), s(&p)],
        &[3],
    ));
    let d = fx.packet_copy("oversized-manifest")?;
    sparse(&d.join(MANIFEST_NAME), seal::MANIFEST_LIMIT + 1)?;
    v.push(cs(
        "oversized-manifest",
        "a HASH_MANIFEST.txt one byte over the limit",
        verify(&d),
        &[3],
    ));
    Ok(v)
}

pub(super) fn forged_status(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let t = fx.token.clone();
    let ready = format!("{}_READY", fx.evidence_value.status_prefix);
    let with = |mut e: Value, k: &str, val: Value| -> Result<Vec<u8>> {
        e[k] = val;
        json_bytes(&e)
    };
    let mut v = vec![
        verdict_case(
            fx,
            "status-field",
            "failing evidence claiming \"status\": \"<PREFIX>_READY\"",
            &with(failing_evidence(fx)?, "status", json!(ready))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "decision-field",
            "failing evidence claiming the pass token as its decision",
            &with(failing_evidence(fx)?, "decision", json!(t))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "ready-prefix",
            "a status prefix ending in _READY",
            &with(evidence(fx)?, "status_prefix", json!(ready))?,
            &[3],
        )?,
        verdict_case(
            fx,
            "token-as-key",
            "failing evidence with the pass token as a key",
            &with(failing_evidence(fx)?, &t, json!(true))?,
            &[3],
        )?,
    ];
    // The token spelled with a JSON escape is still the token once parsed.
    let escaped = t.replace('_', "\\u005f");
    let sel = String::from_utf8_lossy(&json_bytes(&evidence(fx)?)?).replacen(
        "\"selected\": \"PROCEED\"",
        &format!("\"selected\": \"{escaped}\""),
        1,
    );
    v.push(verdict_case(
        fx,
        "escaped-token-selected",
        "the pass token, JSON-escaped, as the selected option",
        sel.as_bytes(),
        &[3],
    )?);
    let mut e = failing_evidence(fx)?;
    e["probes"][0]["id"] = json!("probe_READY");
    e["blockers"][0]["id"] = json!("BLK_READY");
    e["blockers"][0]["open"] = json!(true);
    v.push(verdict_case(
        fx,
        "ready-in-ids",
        "failing evidence whose ids spell _READY",
        &json_bytes(&e)?,
        &[1],
    )?);

    let title = spec_toml(fx, |s| s.blocker[0].title = format!("{t} granted"))?;
    v.push(gates_case(
        fx,
        "token-in-blocker-title",
        "a blocker title holding the pass token",
        &[3],
        |d| wr(&d.join(SPEC_FILE), title.as_bytes()),
    )?);
    let status = spec_toml(fx, |_| {})?.replacen("status = \"closed\"", "status = \"READY\"", 1);
    v.push(gates_case(
        fx,
        "ready-blocker-status",
        "a blocker with status = \"READY\"",
        &[3],
        |d| wr(&d.join(SPEC_FILE), status.as_bytes()),
    )?);
    let opt = spec_toml(fx, |s| s.option[0].id = t.clone())?;
    v.push(gates_case(
        fx,
        "token-as-option",
        "a decision option named after the pass token",
        &[3],
        |d| wr(&d.join(SPEC_FILE), opt.as_bytes()),
    )?);
    let mut report = fx.report_value.clone();
    report.probes[0].outcome = Outcome::FailOpen;
    report.probes[0].fail_closed = true;
    let forged = json_bytes(&report)?;
    v.push(gates_case(
        fx,
        "forged-probe-report",
        "a probe report whose summary says all closed but whose probe failed open",
        &[5],
        |d| wr(&d.join("probe-report.json"), &forged),
    )?);
    let mut facts = fx.facts_value.clone();
    facts
        .derived
        .unknown_surfaces
        .push(unknown_surface("ci_READY", "surface named READY"));
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "ready-surface-name",
        "an unknown surface whose name says READY",
        &[5],
        |d| wr(&d.join("facts.json"), &facts),
    )?);
    let d = fx.case_dir("token-in-probe-title")?;
    let mut user: crate::probe::spec::GateSpec =
        toml::from_str(&std::fs::read_to_string(fx.userspec.join(SPEC_FILE)).at(&fx.userspec)?)
            .map_err(|e| crate::Error::failed(format!("internal: {e}")))?;
    user.probe[0].title = format!("claims {t}");
    user.probe[0].input_file = None;
    wr(&d.join(SPEC_FILE), fx.toml(&user)?.as_bytes())?;
    v.push(cs(
        "token-in-probe-title",
        "a user probe whose title claims the pass token",
        vec!["probe".into(), s(&d), "--only".into(), "user".into()],
        &[3],
    ));

    let d = fx.case_dir("ready-plan")?;
    let p = d.join(PLAN_FILE);
    wr(
        &p,
        format!("# Plan\n\nStatus: {ready}\n\n## Before-state capture\n\ndone\n").as_bytes(),
    )?;
    v.push(cs(
        "ready-plan",
        "a plan claiming _READY but missing five sections",
        vec!["plan".into(), "check".into(), s(&p)],
        &[1],
    ));
    Ok(v)
}
