//! The page templates, embedded in the binary at build time so it runs from
//! any directory; HTML autoescape is on for every `.html` template.

use minijinja::Environment;

/// Every template under `templates/web/`, by name.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../templates/web/layout.html"),
    ),
    ("login.html", include_str!("../../templates/web/login.html")),
    ("queue.html", include_str!("../../templates/web/queue.html")),
    (
        "request.html",
        include_str!("../../templates/web/request.html"),
    ),
    (
        "quarantine.html",
        include_str!("../../templates/web/quarantine.html"),
    ),
    (
        "outbox.html",
        include_str!("../../templates/web/outbox.html"),
    ),
    ("gmis.html", include_str!("../../templates/web/gmis.html")),
    ("bulk.html", include_str!("../../templates/web/bulk.html")),
    (
        "overview.html",
        include_str!("../../templates/web/overview.html"),
    ),
    (
        "account.html",
        include_str!("../../templates/web/account.html"),
    ),
    (
        "accounts.html",
        include_str!("../../templates/web/accounts.html"),
    ),
    (
        "unprocessable.html",
        include_str!("../../templates/web/unprocessable.html"),
    ),
    (
        "correspondence.html",
        include_str!("../../templates/web/correspondence.html"),
    ),
    (
        "unanswered.html",
        include_str!("../../templates/web/unanswered.html"),
    ),
    (
        "gmis_addresses.html",
        include_str!("../../templates/web/gmis_addresses.html"),
    ),
    (
        "_keyboard_help.html",
        include_str!("../../templates/web/_keyboard_help.html"),
    ),
    (
        "_correspondence_item.html",
        include_str!("../../templates/web/_correspondence_item.html"),
    ),
];

/// The compiled templates.
pub fn environment() -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    // Autoescape by file name: HTML for `.html` (minijinja's default rule),
    // stated here so nobody turns it off by renaming a template.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes() {
        let env = environment().unwrap();
        let t = env.template_from_str("{{ x }}").unwrap();
        assert_eq!(t.render(minijinja::context! { x => "<b>" }).unwrap(), "<b>");
        let login = env.get_template("login.html").unwrap();
        let html = login
            .render(minijinja::context! { error => "<script>x</script>", csrf => "t" })
            .unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"));
    }
}
