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
        .insert("evil".into(), "{{ namespace }}\"} or vector(1) #".into());
    vars.name = "{{ variables.evil }}".into();
    assert_eq!(
        render("m", "a{{ variables.evil }}b {{ name }}", &vars).as_deref(),
        Ok("a{{ namespace }}\"} or vector(1) #b {{ variables.evil }}")
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
