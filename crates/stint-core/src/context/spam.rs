//! Referrer spam: sites that send fake visits with their own address as the
//! referrer, to be seen in analytics. Their sessions are treated as bots.

use std::collections::HashSet;

/// Matomo's referrer spam list, compiled in (`data/LICENSE-referrer-spam`).
const BUILTIN: &str = include_str!("../../data/referrer-spam.txt");

/// A list of referrer-spam hosts. A host on the list covers its subdomains
/// too (`semalt.com` covers `www.semalt.com` and `x.semalt.com`), as the
/// list's maintainers intend.
///
/// ```
/// use stint_core::context::ReferrerSpam;
///
/// let list = ReferrerSpam::builtin();
/// assert!(list.is_spam("http://semalt.com/crawler.php?u=shop.example"));
/// assert!(list.is_spam("https://www.Semalt.com/"));
/// assert!(!list.is_spam("https://www.google.com/search?q=shoes"));
///
/// let mine = ReferrerSpam::parse("# ours\nspam.example\n");
/// assert!(mine.is_spam("https://a.spam.example/x") && !mine.is_spam("https://example/"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ReferrerSpam {
    hosts: HashSet<Box<str>>,
}

impl ReferrerSpam {
    /// The list shipped with Stint, parsed once per process.
    pub fn builtin() -> &'static ReferrerSpam {
        static LIST: std::sync::OnceLock<ReferrerSpam> = std::sync::OnceLock::new();
        LIST.get_or_init(|| ReferrerSpam::parse(BUILTIN))
    }

    /// A list in the format of Matomo's `spammers.txt`: one host per line;
    /// blank lines, surrounding spaces and lines starting with `#` ignored;
    /// case does not matter.
    pub fn parse(text: &str) -> Self {
        let hosts = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.trim_end_matches('.').to_ascii_lowercase().into_boxed_str())
            .collect();
        Self { hosts }
    }

    /// Hosts on the list.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Whether `referrer` (a URL, or a bare host) is on the list, or a subdomain of a host on it.
    pub fn is_spam(&self, referrer: &str) -> bool {
        let host = super::url_host(referrer.trim()).trim_end_matches('.');
        if host.is_empty() || host.len() > 253 {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let mut candidate = host.as_str();
        loop {
            if self.hosts.contains(candidate) {
                return true;
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_is_matomos() {
        let list = ReferrerSpam::builtin();
        assert!(list.len() > 2000, "{}", list.len());
        for spam in [
            "http://darodar.com/",
            "https://buttons-for-website.com",
            "http://ilovevitaly.com/?utm=x",
            "https://user@free-social-buttons.com:8080/a",
            "prizesk.com",
            "https://qiwi.xyz/",
        ] {
            assert!(list.is_spam(spam), "{spam}");
        }
        for fine in [
            "https://www.google.com/search?q=shoes",
            "https://news.example/today",
            "https://darodar.com.example.org/",
            "",
            "not a url",
        ] {
            assert!(!list.is_spam(fine), "{fine}");
        }
    }

    #[test]
    fn a_listed_host_covers_its_subdomains_only() {
        let list = ReferrerSpam::parse("spammer.tumblr.com\n\n  Semalt.COM  \n# a comment\n");
        assert_eq!(list.len(), 2);
        assert!(list.is_spam("https://spammer.tumblr.com/post"));
        assert!(list.is_spam("https://a.b.semalt.com/"));
        assert!(
            !list.is_spam("https://tumblr.com/"),
            "the parent of a listed subdomain"
        );
        assert!(!list.is_spam("https://other.tumblr.com/"));
        assert!(!list.is_spam("https://notsemalt.com/"));
        assert!(!ReferrerSpam::default().is_spam("https://semalt.com/"));
    }
}
