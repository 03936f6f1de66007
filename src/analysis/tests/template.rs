//! Rendering MetricTemplate queries.

use std::collections::BTreeMap;

use crate::analysis::template::{TemplateError, TemplateVars, collapse_whitespace, render};

fn vars() -> TemplateVars {
    TemplateVars {
        name: "podinfo".into(),
        namespace: "test".into(),
        target: "podinfo-app".into(),
        service: "podinfo-svc".into(),
        ingress: "podinfo-app".into(),
        route: "podinfo-app".into(),
        interval: "30s".into(),
        variables: BTreeMap::from([
            ("region".to_string(), "eu-west-1".to_string()),
            ("app_label".to_string(), "podinfo".to_string()),
            ("with-dash".to_string(), "ok".to_string()),
        ]),
    }
}

#[test]
fn every_variable_is_substituted() {
    let query = "{{ name }} {{namespace}} {{ target }} {{ service }} {{ ingress }} {{ route }} \
                 {{ interval }} {{ variables.region }} {{variables.app_label}} {{ variables.with-dash }}";
    assert_eq!(
        render("m", query, &vars()).as_deref(),
        Ok("podinfo test podinfo-app podinfo-svc podinfo-app podinfo-app 30s eu-west-1 podinfo ok")
    );
}

#[test]
fn a_flagger_style_template_renders_and_collapses() {
    let query = r#"
        100 - sum(
            rate(
                istio_requests_total{
                    reporter="source",
                    destination_workload_namespace="{{ namespace }}",
                    destination_workload="{{ target }}",
                    response_code!~"5.*"
                }[{{ interval }}]
            )
        )
    "#;
    assert_eq!(
        render("error-rate", query, &vars()).as_deref(),
        Ok("100 - sum( rate( istio_requests_total{ reporter=\"source\", \
             destination_workload_namespace=\"test\", destination_workload=\"podinfo-app\", \
             response_code!~\"5.*\" }[30s] ) )")
    );
}

#[test]
fn an_unknown_variable_names_the_metric_and_the_variable() {
    let err = render("error-rate", "sum(x{ns=\"{{ nmespace }}\"})", &vars()).expect_err("typo");
    assert_eq!(
        err,
        TemplateError::UnknownVariable {
            metric: "error-rate".into(),
            variable: "nmespace".into()
        }
    );
    assert!(
        err.to_string()
            .starts_with("metric error-rate: the query refers to unknown variable \"nmespace\"")
    );
}

#[test]
fn a_missing_template_variable_names_the_key() {
    let err = render("latency", "{{ variables.cluster }}", &vars()).expect_err("no such key");
    assert_eq!(
        err.to_string(),
        "metric latency: the query refers to variables.cluster, but templateVariables has no key \"cluster\""
    );
}

#[test]
fn syntax_errors_name_the_metric() {
    for (query, fragment) in [
        ("sum(x{ns=\"{{ namespace\"})", "unclosed {{"),
        ("{{ }}", "{{  }} is not supported"),
        ("{{ printf \"%s\" namespace }}", "is not supported"),
        ("{{ .namespace | upper }}", "is not supported"),
        ("{{ $route }}", "is not supported"),
    ] {
        let err = render("m", query, &vars()).expect_err(query);
        assert!(
            matches!(err, TemplateError::Syntax { ref metric, .. } if metric == "m"),
            "{query}: {err:?}"
        );
        assert!(err.to_string().contains(fragment), "{query}: {err}");
    }
}

#[test]
fn values_are_inserted_as_text_never_rendered_again() {
    let mut vars = vars();
    vars.variables
        .insert("evil".into(), "{{ namespace }} or vector(1) #".into());
    vars.name = "{{ variables.evil }}".into();
    assert_eq!(
        render("m", "a{{ variables.evil }}b {{ name }}", &vars).as_deref(),
        Ok("a{{ namespace }} or vector(1) #b {{ variables.evil }}")
    );
    // A value that looks like a closing delimiter does not end anything either.
    vars.variables.insert("braces".into(), "}}{{".into());
    assert_eq!(
        render("m", "{{ variables.braces }}{{ target }}", &vars).as_deref(),
        Ok("}}{{podinfo-app")
    );
}

#[test]
fn text_without_actions_passes_through() {
    assert_eq!(render("m", "  vector(1)\n", &vars()).as_deref(), Ok("vector(1)"));
    // Go templates leave a lone `}}` alone too.
    assert_eq!(render("m", "x}}", &vars()).as_deref(), Ok("x}}"));
}

#[test]
fn trim_markers_and_comments_work_as_in_go() {
    assert_eq!(
        render("m", "a   {{- namespace -}}   b {{/* a comment */}}c", &vars()).as_deref(),
        Ok("atestb c")
    );
}

#[test]
fn whitespace_runs_collapse_to_one_space() {
    assert_eq!(
        collapse_whitespace("\n  sum(\t rate(x[1m])\r\n )  "),
        "sum( rate(x[1m]) )"
    );
    assert_eq!(collapse_whitespace(""), "");
}

// === Values that try to change the query ===

fn with(key: &str, value: &str) -> TemplateVars {
    let mut vars = vars();
    vars.variables.insert(key.to_string(), value.to_string());
    vars
}

fn refused(template: &str, value: &str) -> String {
    match render("error-rate", template, &with("v", value)) {
        Err(err @ TemplateError::UnsafeValue { .. }) => err.to_string(),
        other => panic!("{value:?} in {template:?}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_value_that_breaks_out_of_a_label_matcher_is_refused() {
    let message = refused(
        r#"sum(up{job="{{ variables.v }}"})"#,
        r#"x"} or vector(1) or {job=""#,
    );
    assert_eq!(
        message,
        "metric error-rate: the value of variables.v would end the quoted string it is placed in (it \
         contains an unescaped \"); values are inserted as written and may not change the query's structure"
    );
    // The same in single quotes and raw strings.
    refused("up{job='{{ variables.v }}'}", "x'} or vector(1) or {job='");
    refused("up{job=~`{{ variables.v }}`}", "x`} or vector(1) or {job=~`");
}

#[test]
fn a_value_ending_in_a_backslash_cannot_swallow_the_closing_quote() {
    let message = refused(r#"up{job="{{ variables.v }}"} or vector(1)"#, r"x\");
    assert!(message.contains("it ends in a backslash"), "{message}");
    // An escaped backslash is two characters of content, and fine.
    assert_eq!(
        render("m", r#"up{job=~"{{ variables.v }}"}"#, &with("v", r"a\\")).as_deref(),
        Ok(r#"up{job=~"a\\"}"#)
    );
}

#[test]
fn a_line_break_inside_a_quoted_string_is_refused() {
    let message = refused(r#"up{job="{{ variables.v }}"}"#, "a\nb");
    assert!(message.contains("line break"), "{message}");
}

#[test]
fn escaped_quotes_and_regexes_stay_inside_their_string() {
    let vars = with("v", r#"5.*|say \"hi\"|'single'|`tick`"#);
    assert_eq!(
        render("m", r#"up{code=~"{{ variables.v }}"}"#, &vars).as_deref(),
        Ok(r#"up{code=~"5.*|say \"hi\"|'single'|`tick`"}"#)
    );
}

#[test]
fn template_syntax_in_a_value_is_inserted_literally_not_expanded() {
    for value in ["{{ name }}", "}}", "{{", "{{ variables.v }}", "{{- -}}"] {
        let out = render("m", r#"up{job="{{ variables.v }}"}"#, &with("v", value));
        assert_eq!(out, Ok(format!("up{{job=\"{value}\"}}")), "{value:?}");
    }
}

#[test]
fn outside_a_string_a_value_is_a_promql_fragment_but_cannot_leave_a_string_open() {
    // Balanced literals are fine: the template author placed the value where PromQL goes.
    assert_eq!(
        render("m", "{{ variables.v }} > 0", &with("v", r#"sum(up{job="api"})"#)).as_deref(),
        Ok(r#"sum(up{job="api"}) > 0"#)
    );
    let message = refused(r#"{{ variables.v }} + up{job="x"}"#, r#"up{a=""#);
    assert!(message.contains("an unmatched \""), "{message}");
}

#[test]
fn huge_values_and_queries_are_refused() {
    let megabyte = "a".repeat(1 << 20);
    let err = render("m", r#"up{job="{{ variables.v }}"}"#, &with("v", &megabyte)).expect_err("1 MB value");
    assert_eq!(
        err.to_string(),
        "metric m: the value of variables.v is 1048576 bytes, over the limit of 4096"
    );
    let template = "{{ variables.v }}".repeat(20);
    let err = render("m", &template, &with("v", &"a".repeat(4096))).expect_err("an 80 KiB query");
    assert!(
        matches!(err, TemplateError::QueryTooLong { limit: 65536, .. }),
        "{err}"
    );
    let err = render("m", &"x".repeat(100_000), &vars()).expect_err("a 100 kB template");
    assert!(matches!(err, TemplateError::QueryTooLong { .. }), "{err}");
}

#[test]
fn long_template_text_is_cut_in_errors() {
    let err = render("m", &format!("{{{{ {} }}}}", "a".repeat(100_000)), &vars()).expect_err("unknown");
    assert!(err.to_string().len() < 400, "{err}");
    let err = render("m", &format!("{{{{ {} }}}}", "(".repeat(100_000)), &vars()).expect_err("syntax");
    assert!(err.to_string().len() < 400, "{err}");
}

#[test]
fn unsafe_values_have_their_own_event_reason() {
    use crate::analysis::MetricError;
    let err = render("m", r#"up{a="{{ variables.v }}"}"#, &with("v", "\"")).expect_err("unsafe");
    assert_eq!(MetricError::from(err).reason(), "TemplateVariableRefused");
    let err = render("m", "{{ variables.nope }}", &vars()).expect_err("missing");
    assert_eq!(MetricError::from(err).reason(), "MetricTemplateInvalid");
}

#[test]
fn an_empty_value_after_a_template_backslash_is_refused() {
    // Found by the template_render fuzz target: `"\` + "" + `"` is an unclosed string.
    let err = render("m", r#"x{a="\{{ variables.v }}"} or vector(1)"#, &with("v", "")).expect_err("empty");
    assert!(err.to_string().contains("be empty after a backslash"), "{err}");
    assert_eq!(
        render("m", r#"x{a="\{{ variables.v }}"}"#, &with("v", "d")).as_deref(),
        Ok(r#"x{a="\d"}"#)
    );
}

#[test]
fn a_value_that_takes_a_template_escape_shifts_it() {
    // Found by the template_render fuzz target: the first value's `"` is the character the
    // template's backslash escapes, so the template's next `"` closes the string and the second
    // `{{ variables.v }}` stands outside it, where a lone `"` would open a string.
    let err = render(
        "m",
        r#""\{{ variables.v }}"\{{ variables.v }}""#,
        &with("v", "\""),
    )
    .expect_err("the second value opens a string");
    assert!(err.to_string().contains("an unmatched \""), "{err}");
}
