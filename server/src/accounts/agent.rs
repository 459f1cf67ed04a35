//! A browser's `User-Agent` in words, for the list of a user's sessions: "Chrome 156 on
//! Linux", "Safari 18 on iOS", "Firefox 140 on Windows". Unknown agents read as what they
//! are ("curl 8", or "Unknown browser").

/// The browser and its major version, then the operating system, as a person names them.
pub fn readable(agent: &str) -> String {
    let browser = browser(agent);
    match system(agent) {
        Some(system) => format!("{browser} on {system}"),
        None => browser,
    }
}

/// The major version following `marker` (`"Chrome/"`) in `agent`.
fn major(agent: &str, marker: &str) -> Option<String> {
    let rest = &agent[agent.find(marker)? + marker.len()..];
    let version: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!version.is_empty()).then_some(version)
}

fn browser(agent: &str) -> String {
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    let known = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
    ];
    for (marker, name) in known {
        if let Some(version) = major(agent, marker) {
            return format!("{name} {version}");
        }
    }
    if agent.contains("Safari/")
        && let Some(version) = major(agent, "Version/")
    {
        return format!("Safari {version}");
    }
    // A tool: its own name and major version ("curl/8.5.0" → "curl 8").
    let first = agent.split_whitespace().next().unwrap_or_default();
    match first.split_once('/') {
        Some((name, _)) if !name.is_empty() && !first.starts_with("Mozilla") => {
            match major(first, "/") {
                Some(version) => format!("{name} {version}"),
                None => name.to_owned(),
            }
        }
        _ => "Unknown browser".to_owned(),
    }
}

fn system(agent: &str) -> Option<&'static str> {
    let known = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    known
        .into_iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn agents_read_as_people_name_them() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
                "Chrome 156 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.3485.54",
                "Edge 140 on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
                "Safari 18 on iOS",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:140.0) Gecko/20100101 Firefox/140.0",
                "Firefox 140 on macOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Mobile Safari/537.36",
                "Chrome 139 on Android",
            ),
            ("curl/8.5.0", "curl 8"),
            ("", "Unknown browser"),
        ];
        for (agent, expected) in cases {
            assert_eq!(readable(agent), expected, "{agent}");
        }
    }
}
