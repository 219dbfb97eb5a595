//! The HTML the server shows. Every interpolated value goes through `text` or `attr`.

use html_escape::{encode_double_quoted_attribute, encode_text};
use keyfob_core::TokenPage;

fn text(s: &str) -> String {
    encode_text(s).into_owned()
}

fn attr(s: &str) -> String {
    encode_double_quoted_attribute(s).into_owned()
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · keyfob</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}\
         button{{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}}.err{{color:#a00}}.warn{{color:#850}}small{{color:#666}}\
         </style></head><body>{body}</body></html>",
        title = text(title),
    )
}

/// The page after a completed login.
pub(crate) fn success(display_name: &str, warnings: &[String]) -> String {
    let notes: String = warnings
        .iter()
        .map(|w| format!("<p class=\"warn\">{}</p>", text(w)))
        .collect();
    layout(
        "Signed in",
        &format!(
            "<h1>Done</h1><p>keyfob now holds your {} credentials. You can close this tab.</p>{notes}",
            text(display_name)
        ),
    )
}

/// A page for an error; `message` is shown escaped.
pub(crate) fn error(title: &str, message: &str) -> String {
    layout(
        title,
        &format!(
            "<h1>{}</h1><p class=\"err\">{}</p>",
            text(title),
            text(message)
        ),
    )
}

/// The token-entry form. `state` is echoed in a hidden field; `problem` is shown above the form
/// after a rejected entry.
pub(crate) fn token_form(
    page: &TokenPage,
    action: &str,
    state: &str,
    problem: Option<&str>,
) -> String {
    let mut fields = String::new();
    for f in page.fields {
        fields.push_str(&format!(
            "<label for=\"{n}\">{l}</label><input id=\"{n}\" name=\"{n}\" type=\"{t}\" autocomplete=\"off\" required>",
            n = attr(f.name),
            l = text(f.label),
            t = if f.secret { "password" } else { "text" },
        ));
    }
    let docs = if page.docs_url.is_empty() {
        String::new()
    } else {
        format!(
            "<p><small>Get one at <a href=\"{u}\" rel=\"noreferrer noopener\" target=\"_blank\">{t}</a>.</small></p>",
            u = attr(page.docs_url),
            t = text(page.docs_url)
        )
    };
    let problem = problem
        .map(|p| format!("<p class=\"err\">{}</p>", text(p)))
        .unwrap_or_default();
    layout(
        &format!("{} credentials", page.display_name),
        &format!(
            "<h1>{name}</h1><p>Enter your {name} credentials. They are stored encrypted on this machine and never leave it \
             except to call {name}.</p>{docs}{problem}\
             <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"state\" value=\"{state}\">{fields}\
             <button type=\"submit\">Save</button></form>",
            name = text(page.display_name),
            action = attr(action),
            state = attr(state),
        ),
    )
}
