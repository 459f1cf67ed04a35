//! The e-mail and page templates (`server/templates`), compiled into the binary and
//! rendered with minijinja. `.html` templates escape every value; `.txt` ones do not.

use minijinja::Environment;
use std::sync::LazyLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const SOURCES: &[(&str, &str)] = templates!(
    "mail/layout.html",
    "mail/button.html",
    "mail/footer.txt",
    "mail/verify.txt",
    "mail/verify.html",
    "mail/reset.txt",
    "mail/reset.html",
    "mail/test.txt",
    "mail/test.html",
    "mail/slot.txt",
    "mail/slot.html",
    "mail/funds.txt",
    "mail/funds.html",
    "mail/weekly.txt",
    "mail/weekly.html",
    "pages/base.html",
    "pages/message.html",
    "pages/confirm.html",
    "pages/forgot.html",
    "pages/reset.html",
    "pages/mailbox.html",
    "admin/mail_panel.html",
    "settings/notifications.html",
);

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Templates name their siblings without the folder (`{% extends "layout.html" %}`).
    env.set_path_join_callback(|name, parent| match parent.rsplit_once('/') {
        Some((dir, _)) if !name.contains('/') => format!("{dir}/{name}").into(),
        _ => name.into(),
    });
    for (name, source) in SOURCES {
        env.add_template(name, source)
            .unwrap_or_else(|err| panic!("template {name}: {err}"));
    }
    env
});

/// Renders the template `name` (e.g. `mail/verify.txt`) with `context`.
pub fn render(name: &str, context: impl serde::Serialize) -> anyhow::Result<String> {
    let template = ENV.get_template(name)?;
    Ok(template.render(context)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in SOURCES {
            ENV.get_template(name).unwrap();
        }
    }

    #[test]
    fn html_values_are_escaped_and_text_ones_are_not() {
        let context = minijinja::context! {
            title => "Done",
            message => "<b>Tom & Jerry</b>",
        };
        let html = render("pages/message.html", &context).unwrap();
        assert!(
            html.contains("&lt;b&gt;Tom &amp; Jerry&lt;&#x2f;b&gt;"),
            "{html}"
        );
        let text = render(
            "mail/test.txt",
            minijinja::context! { origin => "http://a&b", transport => "x" },
        )
        .unwrap();
        assert!(text.contains("http://a&b"));
    }
}
