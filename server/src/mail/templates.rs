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
    "pages/head.html",
    "pages/base.html",
    "pages/message.html",
    "pages/confirm.html",
    "pages/forgot.html",
    "pages/reset.html",
    "pages/mailbox.html",
    "admin/mail_panel.html",
    "settings/notifications.html",
    "help/layout.html",
    "help/help.html",
    "help/faq.html",
    "help/pricing.html",
    "help/terms.html",
    "help/privacy.html",
    "help/risk.html",
    "help/position.html",
    "help/bot.html",
    "help/bot_panels.html",
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

    /// Compares `actual` with the snapshot `name` in `src/mail/snapshots`; with
    /// `UPDATE_SNAPSHOTS=1` writes it instead (then review the diff).
    fn snapshot(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/mail/snapshots")
            .join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!("no snapshot {name}: run with UPDATE_SNAPSHOTS=1 and review it")
        });
        assert_eq!(
            actual, expected,
            "{name} changed: run with UPDATE_SNAPSHOTS=1 if that is intended"
        );
    }

    /// Renders `template` as text and HTML with `context` against their snapshots.
    fn both(template: &str, context: &serde_json::Value) {
        both_as(template, template, context);
    }

    /// [`both`], against the snapshots `name.txt` and `name.html`.
    fn both_as(template: &str, name: &str, context: &serde_json::Value) {
        for ext in ["txt", "html"] {
            let rendered = render(&format!("mail/{template}.{ext}"), context).unwrap();
            snapshot(&format!("{name}.{ext}"), &rendered);
        }
    }

    fn common(extra: serde_json::Value) -> serde_json::Value {
        let mut context = serde_json::json!({
            "email": "ann@example.com",
            "origin": "https://quantshift.example",
            "subject": "Subject",
        });
        for (key, value) in extra.as_object().unwrap() {
            context[key] = value.clone();
        }
        context
    }

    #[test]
    fn account_messages_match_their_snapshots() {
        both(
            "verify",
            &common(
                serde_json::json!({"link": "https://quantshift.example/verify-email?token=abc"}),
            ),
        );
        both(
            "reset",
            &common(
                serde_json::json!({"link": "https://quantshift.example/reset-password?token=abc"}),
            ),
        );
        both(
            "test",
            &common(serde_json::json!({"transport": "smtps://mail.example.com:465"})),
        );
    }

    #[test]
    fn notifications_match_their_snapshots() {
        let unsubscribe = "https://quantshift.example/unsubscribe?token=u.purchases.sig";
        both(
            "slot",
            &common(serde_json::json!({
                "unsubscribe_url": unsubscribe,
                "plan": "Core <ETFs>",
                "when": "on Mon 30 Nov 2026, 10:00 EST",
                "rows": [
                    {"symbol": "SPY", "amount": "50.00", "state": "Bought", "qty": "0.0834", "price": "599.52", "reason": null},
                    {"symbol": "QQQ", "amount": "25.00", "state": "Skipped", "qty": null, "price": null, "reason": "The plan's Smart DCA condition did not hold."},
                ],
                "bought": "50.00",
                "failed": false,
                "next_run": "Mon 7 Dec 2026, 10:00 EST",
            })),
        );
        let failed = render(
            "mail/slot.txt",
            common(serde_json::json!({
                "plan": "Core", "when": "on Mon 30 Nov 2026, 10:00 EST", "failed": true,
                "rows": [{"symbol": "SPY", "amount": "50.00", "state": "Rejected by the broker", "reason": "insufficient buying power"}],
                "next_run": "Mon 7 Dec 2026, 10:00 EST",
            })),
        )
        .unwrap();
        snapshot("slot-failed.txt", &failed);
        // A bot's closing sale, and a sale the broker refused.
        both_as(
            "slot",
            "slot-bot-sale",
            &common(serde_json::json!({
                "unsubscribe_url": unsubscribe,
                "plan": "SPY crossover", "bot": true, "bot_state": "traded", "plan_id": "b6c0e664",
                "when": "on Tue 9 Jun 2026, 09:31 EDT",
                "rows": [{"symbol": "SPY", "amount": "3077.08", "state": "Sold", "qty": "4.24465248", "price": "731.10", "reason": "Stopped and sold: the bot's whole position"}],
                "sold": "3103.27", "failed": false, "selling": true,
            })),
        );
        let refused = render(
            "mail/slot.txt",
            common(serde_json::json!({
                "plan": "SPY crossover", "bot": true, "plan_id": "b6c0e664", "failed": true,
                "selling": true, "when": "on Tue 9 Jun 2026, 09:31 EDT",
                "rows": [{"symbol": "SPY", "amount": "3077.08", "state": "Rejected by the broker", "reason": "insufficient qty available for order"}],
            })),
        )
        .unwrap();
        snapshot("slot-bot-refused.txt", &refused);
        let ordered = render(
            "mail/slot.txt",
            common(serde_json::json!({
                "plan": "SPY crossover", "bot": true, "bot_state": "ordered", "plan_id": "b6c0e664",
                "failed": false, "selling": false, "when": "on Mon 8 Jun 2026, 16:10 EDT",
                "rows": [{"symbol": "SPY", "amount": "3077.08", "state": "Sent; waiting for the fill", "reason": "fast SMA crossed above slow SMA"}],
                "next_run": "Tue 9 Jun 2026, 16:10 EDT",
            })),
        )
        .unwrap();
        snapshot("slot-bot-ordered.txt", &ordered);
        // Purchases missed in a row: one message lists them.
        both_as(
            "slot",
            "slot-missed",
            &common(serde_json::json!({
                "unsubscribe_url": unsubscribe,
                "plan": "Core", "failed": true, "when": "on Mon 30 Nov 2026, 10:00 EST",
                "missed": ["Mon 30 Nov 2026, 10:00 EST", "Tue 1 Dec 2026, 10:00 EST", "Wed 2 Dec 2026, 10:00 EST"],
                "rows": [{"symbol": "SPY", "amount": "10.00", "state": "Missed", "reason": "the server was not running at the scheduled time and the grace window passed"}],
                "next_run": "Thu 3 Dec 2026, 10:00 EST",
            })),
        );
        both(
            "funds",
            &common(serde_json::json!({
                "unsubscribe_url": unsubscribe,
                "plan": "Core (and 1 more)", "needed": "1,250.00", "available": "800.00",
                "when": "on Tue 1 Dec 2026, 10:00 EST", "account": "live", "several": true,
            })),
        );
        both(
            "weekly",
            &common(serde_json::json!({
                "unsubscribe_url": unsubscribe,
                "week": "2026-W49", "invested": "1,200.00", "invested_week": "75.00",
                "purchases_week": 2, "value": "1,315.40", "value_reason": "",
                "gain": "+$115.40", "gain_pct": "+9.62%",
                "next": [{"plan": "Core", "amount": "75.00", "when": "on Mon 7 Dec 2026, 10:00 EST"}],
            })),
        );
    }

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
