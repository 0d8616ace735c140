//! Attribution: the landing page, the referrer and the UTM parameters of a
//! session's first request.

/// Longest stored landing page, referrer or UTM value; longer ones are cut at
/// a character boundary so that a hostile URL cannot bloat every row.
pub const MAX_FIELD_LEN: usize = 512;

/// The UTM parameters of a query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Utm {
    /// `utm_source`.
    pub source: Option<String>,
    /// `utm_medium`.
    pub medium: Option<String>,
    /// `utm_campaign`.
    pub campaign: Option<String>,
}

/// Reads `utm_source`, `utm_medium` and `utm_campaign` from a query string
/// (percent-decoded; empty values count as absent; the first occurrence wins).
pub fn utm(query: &str) -> Utm {
    let mut out = Utm::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "utm_source" => &mut out.source,
            "utm_medium" => &mut out.medium,
            "utm_campaign" => &mut out.campaign,
            _ => continue,
        };
        if slot.is_none() {
            let value = decode(value);
            if !value.trim().is_empty() {
                *slot = Some(truncate(value.trim()));
            }
        }
    }
    out
}

/// The landing page: the path and, if any, the query.
pub fn landing_page(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => truncate(&format!("{path}?{q}")),
        _ => truncate(path),
    }
}

/// The referrer as stored: absent unless it is an absolute `http(s)` URL.
pub fn referrer(referer: &str) -> Option<String> {
    let r = referer.trim();
    (r.starts_with("https://") || r.starts_with("http://")).then(|| truncate(r))
}

/// The host of a URL (or of a bare host): without scheme, user, port, path,
/// query or fragment, as written (case kept). Empty when there is none.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or(host)
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_FIELD_LEN {
        return s.to_owned();
    }
    let mut end = MAX_FIELD_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utm_parameters() {
        let u = utm("a=1&utm_source=news%20letter&utm_campaign=black+friday&utm_source=other&utm_medium=");
        assert_eq!(u.source.as_deref(), Some("news letter"));
        assert_eq!(u.campaign.as_deref(), Some("black friday"));
        assert_eq!(u.medium, None);
        assert_eq!(utm("utm_source=%zz%4").source.as_deref(), Some("%zz%4"));
    }

    #[test]
    fn landing_page_and_referrer() {
        assert_eq!(landing_page("/p", Some("x=1")), "/p?x=1");
        assert_eq!(landing_page("/p", Some("")), "/p");
        assert_eq!(
            referrer("https://example.com/a").as_deref(),
            Some("https://example.com/a")
        );
        assert_eq!(referrer("javascript:alert(1)"), None);
        let long = format!("https://e.com/{}", "é".repeat(600));
        assert!(referrer(&long).unwrap().len() <= MAX_FIELD_LEN);
    }
}
