//! Classes that attack the blocker map, the decision packet, the plan
//! check and the harness's own selection, and every bypass attempt.

use super::*;

const GATES: &[&str] = &["gates-select-good-spec"];
const PLAN: &[&str] = &["plan-check-good-plan", "gates-select-good-spec"];

/// The classes of this family, each with the builder of its bad inputs.
pub(super) fn classes() -> Vec<ClassDef> {
    vec![
        class(
            "blocker-closed-without-evidence",
            "a blocker marked closed without closing evidence",
            &["gates"],
            GATES,
            closed_without_evidence,
        ),
        class(
            "stale-closing-evidence",
            "closing evidence whose cited bytes changed",
            &["gates"],
            GATES,
            stale_closing,
        ),
        class(
            "rollback-plan-incomplete",
            "a rollback plan missing a section or left unfinished",
            &["plan", "check"],
            PLAN,
            plan_incomplete,
        ),
        class(
            "empty-pattern",
            "an empty pattern, list or selection that matches nothing",
            &["probe"],
            MANY,
            empty_pattern,
        ),
        class(
            "bypass",
            "--force, HOLDFAST_* variables and unknown config keys",
            &["verify"],
            MANY,
            bypass,
        ),
    ]
}

pub(super) fn closed_without_evidence(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let none = spec_toml(fx, |s| s.blocker[0].closing_evidence.clear())?;
    let absent: String = none
        .lines()
        .filter(|l| !l.starts_with("closing_evidence"))
        .map(|l| format!("{l}\n"))
        .collect();
    let unpinned = spec_toml(fx, |s| s.blocker[0].closing_evidence[0].sha256 = None)?;
    let open = spec_toml(fx, |s| {
        s.blocker[0].status = Status::Open;
        s.blocker[0].title = "closed".into();
    })?;
    let mut facts = fx.facts_value.clone();
    facts
        .derived
        .unknown_surfaces
        .push(unknown_surface("ci", "CI"));
    let facts = json_bytes(&facts)?;
    Ok(vec![
        gates_case(
            fx,
            "empty-list",
            "a closed blocker with closing_evidence = []",
            &[5],
            |d| wr(&d.join(SPEC_FILE), none.as_bytes()),
        )?,
        gates_case(
            fx,
            "no-key",
            "a closed blocker without a closing_evidence key",
            &[5],
            |d| wr(&d.join(SPEC_FILE), absent.as_bytes()),
        )?,
        gates_case(
            fx,
            "unpinned",
            "closing evidence without a sha256",
            &[3],
            |d| wr(&d.join(SPEC_FILE), unpinned.as_bytes()),
        )?,
        gates_case(
            fx,
            "open-titled-closed",
            "an open blocker whose title says closed",
            &[5],
            |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
        )?,
        gates_case(
            fx,
            "derived-open",
            "declared blockers closed, but an unknown surface derives an open one",
            &[5],
            |d| wr(&d.join("facts.json"), &facts),
        )?,
    ])
}

pub(super) fn stale_closing(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let past = spec_toml(fx, |s| {
        s.blocker[0].closing_evidence[0].lines = Some("1-9".into())
    })?;
    let mut v = vec![
        gates_case(
            fx,
            "changed-source",
            "the cited closing evidence changed in the source",
            &[5],
            |d| {
                wr(
                    &d.join("source").join(CLOSING),
                    b"CI scope reviewed\nseal does NOT cover the bytes\n",
                )
            },
        )?,
        gates_case(
            fx,
            "missing-source",
            "the cited closing evidence deleted from the source",
            &[5],
            |d| rm(&d.join("source").join(CLOSING)),
        )?,
        gates_case(
            fx,
            "past-the-end",
            "a closing citation of lines past the end of the file",
            &[5],
            |d| wr(&d.join(SPEC_FILE), past.as_bytes()),
        )?,
        gates_case(
            fx,
            "link-out",
            "the cited file replaced by a link to an identical file outside the source",
            &[5],
            |d| {
                let real = d.with_file_name("outside-closing.txt");
                std::fs::copy(d.join("source").join(CLOSING), &real).at(&real)?;
                rm(&d.join("source").join(CLOSING))?;
                link(&real, &d.join("source").join(CLOSING))
            },
        )?,
    ];
    let spec = fx.spec_copy("no-source")?;
    let out = spec.with_file_name("out");
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--source") {
        args.drain(i..i + 2);
    }
    v.push(
        cs(
            "no-source",
            "selecting without --source, so closing evidence is unchecked",
            args,
            &[2],
        )
        .nothing_at(out),
    );
    Ok(v)
}

pub(super) fn plan_incomplete(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let good = good_plan();
    let body = "- done for the fixture\n";
    let cases: Vec<(&str, String, &str, i32)> = vec![
        (
            "missing-section",
            good.replace("## Rollback trigger\n", ""),
            "the Rollback trigger heading removed",
            1,
        ),
        (
            "empty-section",
            good.replacen(
                &format!("## Verification\n\n{body}"),
                "## Verification\n\n",
                1,
            ),
            "the Verification section emptied",
            1,
        ),
        (
            "todo-left",
            good.replacen(body, "- TODO: fill in\n", 1),
            "a TODO placeholder left in a section",
            1,
        ),
        (
            "comment-only",
            good.replacen(body, "<!-- fill in -->\n", 1),
            "a section holding only an HTML comment",
            1,
        ),
        (
            "fenced-heading",
            good.replace("## Rollback action\n", "```\n## Rollback action\n```\n"),
            "a section heading inside a code fence",
            1,
        ),
        (
            "duplicate-section",
            format!("{good}## Rollback action\n\nagain\n"),
            "a section given twice",
            1,
        ),
        (
            "no-space-heading",
            good.replace("## Mutation boundary", "##Mutation boundary"),
            "a heading without the space after ##",
            1,
        ),
        ("empty-file", String::new(), "an empty plan", 1),
    ];
    let mut v = Vec::new();
    for (name, text, what, code) in cases {
        let d = fx.case_dir(name)?;
        let p = d.join(PLAN_FILE);
        wr(&p, text.as_bytes())?;
        v.push(cs(
            name,
            what,
            vec!["plan".into(), "check".into(), s(&p)],
            &[code],
        ));
    }
    let d = fx.case_dir("not-utf8")?;
    let p = d.join(PLAN_FILE);
    wr(&p, b"## Before-state capture\n\xff\n")?;
    v.push(cs(
        "not-utf8",
        "a plan that is not UTF-8",
        vec!["plan".into(), "check".into(), s(&p)],
        &[3],
    ));
    let broken = good.replace("## Rollback trigger\n", "");
    v.push(gates_case(
        fx,
        "gates-incomplete-plan",
        "an option requiring the rollback plan, with a section missing",
        &[5],
        |d| wr(&d.join(PLAN_FILE), broken.as_bytes()),
    )?);
    v.push(gates_case(
        fx,
        "gates-no-plan",
        "an option requiring the rollback plan, with no plan",
        &[5],
        |d| rm(&d.join(PLAN_FILE)),
    )?);
    Ok(v)
}

pub(super) fn empty_pattern(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let us = s(&fx.userspec);
    let surface = spec_toml(fx, |s| s.blocker[0].surface = String::new())?;
    let req = spec_toml(fx, |s| s.option[0].requires_closed = vec![String::new()])?;
    let mut v = vec![
        cs(
            "probe-only-unknown",
            "probe --only naming no class",
            vec![
                "probe".into(),
                us.clone(),
                "--only".into(),
                "no-such-class".into(),
            ],
            &[2],
        ),
        cs(
            "probe-only-empty",
            "probe --only with an empty class name",
            vec!["probe".into(), us, "--only".into(), String::new()],
            &[2],
        ),
        gates_case(
            fx,
            "blocker-empty-surface",
            "a blocker with surface = \"\"",
            &[3],
            |d| wr(&d.join(SPEC_FILE), surface.as_bytes()),
        )?,
        gates_case(
            fx,
            "option-empty-requirement",
            "an option requiring the blocker \"\"",
            &[3],
            |d| wr(&d.join(SPEC_FILE), req.as_bytes()),
        )?,
    ];
    let d = fx.case_dir("user-probe-empty-command")?;
    let text = std::fs::read_to_string(fx.userspec.join(SPEC_FILE)).at(&fx.userspec)?;
    let start = text.find("command = [").unwrap_or(0);
    let end = text[start..]
        .find(']')
        .map_or(text.len(), |e| start + e + 1);
    wr(
        &d.join(SPEC_FILE),
        format!("{}command = []{}", &text[..start], &text[end..]).as_bytes(),
    )?;
    v.push(cs(
        "user-probe-empty-command",
        "a user probe with command = []",
        vec!["probe".into(), s(&d), "--only".into(), "user".into()],
        &[3],
    ));

    let mut e = evidence(fx)?;
    e["proof"]["entries"] = json!([]);
    v.push(verdict_case(
        fx,
        "proof-covers-nothing",
        "evidence whose forbidden-surface proof lists no surface",
        &json_bytes(&e)?,
        &[1],
    )?);
    let mut e = evidence(fx)?;
    e["probes"] = json!([]);
    v.push(verdict_case(
        fx,
        "no-probes",
        "evidence with an empty probe list",
        &json_bytes(&e)?,
        &[1],
    )?);
    let mut facts = fx.facts_value.clone();
    if let Some(p) = facts.proof.as_mut() {
        p.entries.clear();
    }
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "facts-proof-empty",
        "a --facts proof listing no surface",
        &[5],
        |d| wr(&d.join("facts.json"), &facts),
    )?);
    Ok(v)
}

fn holdfast_env(token: &str) -> Vec<(String, String)> {
    [
        ("HOLDFAST_FORCE", "1"),
        ("HOLDFAST_BYPASS", "1"),
        ("HOLDFAST_SKIP_VERIFY", "1"),
        ("HOLDFAST_ALLOW_FAIL_OPEN", "1"),
        ("HOLDFAST_DECISION", token),
        ("HOLDFAST_PASS_TOKEN", token),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(super) fn bypass(fx: &Fixture) -> Result<Vec<CaseSpec>> {
    let env = holdfast_env(&fx.token);
    let mut v = Vec::new();
    let tampered = |name: &str| -> Result<PathBuf> {
        let d = fx.packet_copy(name)?;
        wr(&d.join("README.md"), b"tampered\n")?;
        Ok(d)
    };
    let d = tampered("verify-force")?;
    let mut a = verify(&d);
    a.push("--force".into());
    v.push(cs(
        "verify-force",
        "verify --force on a tampered packet",
        a,
        &[2],
    ));
    let d = tampered("verify-env")?;
    v.push(
        cs(
            "verify-env",
            "verify of a tampered packet with HOLDFAST_* variables set",
            verify(&d),
            &[1],
        )
        .env(env.clone()),
    );

    let failing = json_bytes(&failing_evidence(fx)?)?;
    let mut c = verdict_case(
        fx,
        "verdict-force",
        "verdict --force on failing evidence",
        &failing,
        &[2],
    )?;
    c.args.push("--force".into());
    v.push(c);
    v.push(
        verdict_case(
            fx,
            "verdict-env",
            "verdict of failing evidence with HOLDFAST_* variables set",
            &failing,
            &[1],
        )?
        .env(env.clone()),
    );
    let mut e = evidence(fx)?;
    e["verified"] = json!(false);
    let mut c = verdict_case(
        fx,
        "verdict-require-scoping",
        "verdict --require scoping on evidence that does not verify",
        &json_bytes(&e)?,
        &[1],
    )?;
    c.args.extend(["--require".into(), "scoping".into()]);
    v.push(c);

    let open = spec_toml(fx, |s| s.blocker[0].status = Status::Open)?;
    let mut c = gates_case(
        fx,
        "gates-force",
        "gates --select --force with an open blocker",
        &[2],
        |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
    )?;
    c.args.push("--force".into());
    v.push(c);
    v.push(
        gates_case(
            fx,
            "gates-env",
            "gates --select with an open blocker and HOLDFAST_* variables set",
            &[5],
            |d| wr(&d.join(SPEC_FILE), open.as_bytes()),
        )?
        .env(env.clone()),
    );
    let forced = format!(
        "force = true\n{}",
        spec_toml(fx, |s| s.blocker[0].status = Status::Open)?
    );
    v.push(gates_case(
        fx,
        "spec-force-key",
        "gates.toml with force = true",
        &[3],
        |d| wr(&d.join(SPEC_FILE), forced.as_bytes()),
    )?);
    // The key goes into the spec's own [probes] table, so that the unknown
    // key (not a duplicate table) is what the gate has to refuse.
    let mut table: toml::Table = toml::from_str(&spec_toml(fx, |_| {})?)
        .map_err(|e| crate::Error::failed(format!("internal: {e}")))?;
    if let Some(probes) = table
        .entry("probes")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
    {
        probes.insert("allow_fail_open".into(), toml::Value::Boolean(true));
    }
    let allow = fx.toml(&table)?;
    v.push(gates_case(
        fx,
        "spec-probes-key",
        "gates.toml with [probes] allow_fail_open = true",
        &[3],
        |d| wr(&d.join(SPEC_FILE), allow.as_bytes()),
    )?);
    let mut e = failing_evidence(fx)?;
    e["override"] = json!(true);
    v.push(verdict_case(
        fx,
        "evidence-override-key",
        "failing evidence with \"override\": true",
        &json_bytes(&e)?,
        &[3],
    )?);
    let mut facts =
        serde_json::to_value(&fx.facts_value).map_err(|e| crate::Error::failed(e.to_string()))?;
    facts["force"] = json!(true);
    let facts = json_bytes(&facts)?;
    v.push(gates_case(
        fx,
        "facts-force-key",
        "a --facts file with \"force\": true",
        &[3],
        |d| wr(&d.join("facts.json"), &facts),
    )?);

    let auth = std::fs::read_to_string(&fx.auth_production).at(&fx.auth_production)?;
    let spec = fx.spec_copy("authorization-bypass-key")?;
    let out = spec.with_file_name("out");
    let bad_auth = spec.with_file_name("auth.toml");
    wr(&bad_auth, format!("bypass = true\n{auth}").as_bytes())?;
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--authorization") {
        args[i + 1] = s(&bad_auth);
    }
    v.push(
        cs(
            "authorization-bypass-key",
            "an authorization file with bypass = true",
            args,
            &[3],
        )
        .nothing_at(out),
    );

    let spec = fx.spec_copy("scoping-authorization-selects")?;
    let out = spec.with_file_name("out");
    let mut args = fx.gates_select(&spec, &out);
    if let Some(i) = args.iter().position(|a| a == "--authorization") {
        args[i + 1] = s(&fx.auth_scoping);
    }
    v.push(
        cs(
            "scoping-authorization-selects",
            "a scoping authorization used to select an option",
            args,
            &[5],
        )
        .nothing_at(out),
    );

    let d = fx.case_dir("plan-env")?;
    let p = d.join(PLAN_FILE);
    wr(
        &p,
        good_plan().replace("## Rollback trigger\n", "").as_bytes(),
    )?;
    v.push(
        cs(
            "plan-env",
            "plan check of an incomplete plan with HOLDFAST_* variables set",
            vec!["plan".into(), "check".into(), s(&p)],
            &[1],
        )
        .env(env.clone()),
    );

    // The harness itself: a user gate that lets a bad input through must fail
    // the harness whatever the environment says.
    let d = fx.case_dir("probe-env")?;
    fx.put(&d.join(PLAN_FILE), good_plan().as_bytes())?;
    let mut user = crate::probe::spec::GateSpec::default();
    user.probes.pass_token = fx.spec_value.probes.pass_token.clone();
    user.probe.push(crate::probe::spec::UserProbe {
        id: "lets-it-through".into(),
        title: String::new(),
        command: vec![s(&fx.exe), "plan".into(), "check".into()],
        input_file: Some(PLAN_FILE.into()),
        input_via: Default::default(),
        stdin_text: None,
        expect: Default::default(),
        exit_codes: vec![],
        timeout_seconds: None,
        timeout_is_fail_closed: false,
        accept_file: None,
    });
    wr(&d.join(SPEC_FILE), fx.toml(&user)?.as_bytes())?;
    v.push(
        cs(
            "probe-env",
            "the harness on a user gate that exits 0, with HOLDFAST_* variables set",
            vec!["probe".into(), s(&d), "--only".into(), "user".into()],
            &[1],
        )
        .env(env),
    );
    Ok(v)
}
