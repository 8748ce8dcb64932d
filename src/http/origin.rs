//! Which web pages may talk to the Socket.IO endpoint: the `Origin`
//! allow-list. A browser names the page's origin on every websocket
//! handshake and on cross-site requests; without this check any site a
//! visitor opens could chat in their name (cross-site websocket hijacking).
//! Clients that are not browsers send no `Origin` and are let in: they can
//! claim any origin anyway, so refusing them would protect no one.

use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, header};
use std::str::FromStr;

/// A web origin as browsers serialize it: scheme, host and port, the
/// scheme's default port filled in so `https://a` equals `https://a:443`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl FromStr for Origin {
    type Err = String;

    /// Parses `scheme://host[:port]`; a path, query, user name or the
    /// opaque origin `null` is refused.
    fn from_str(raw: &str) -> Result<Self, String> {
        let refused = || format!("{raw:?} is not an origin like https://chat.example.com:8443");
        let uri: Uri = raw.parse().map_err(|_| refused())?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(refused());
        };
        let path_is_empty = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        if !path_is_empty || authority.as_str().contains('@') {
            return Err(refused());
        }
        let scheme = scheme.to_ascii_lowercase();
        let port = authority.port_u16().or_else(|| default_port(&scheme));
        Ok(Self { scheme, host: authority.host().to_ascii_lowercase(), port })
    }
}

impl Origin {
    /// True if this is the server itself as reached at `host` (the `Host`
    /// header): same host and port, over http or https, because behind a
    /// TLS-terminating proxy the server cannot tell which one the page used.
    fn is_served_from(&self, host: &Authority) -> bool {
        matches!(self.scheme.as_str(), "http" | "https")
            && self.host == host.host().to_ascii_lowercase()
            && self.port == host.port_u16().or_else(|| default_port(&self.scheme))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// One `--allowed-origin`: an exact origin, or `*` for any page at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedOrigin {
    Any,
    Exactly(Origin),
}

impl FromStr for AllowedOrigin {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "*" => Ok(Self::Any),
            origin => origin.parse().map(Self::Exactly),
        }
    }
}

/// What a request's `Origin` header amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No `Origin`, or the server's own: nothing to add to the answer.
    SameSite,
    /// An allowed other site: the answer names it for the browser (CORS),
    /// so polling works from there too.
    CrossSite(axum::http::HeaderValue),
    Refused,
}

/// The server's own origin plus the operator's `--allowed-origin`s.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    allowed: Vec<AllowedOrigin>,
}

impl OriginPolicy {
    pub fn new(allowed: &[AllowedOrigin]) -> Self {
        Self { allowed: allowed.to_vec() }
    }

    /// Judges a request by its `Origin` against the host it was sent to
    /// (`Host`, or the authority of an HTTP/2 request).
    pub fn judge(&self, headers: &HeaderMap, uri: &Uri) -> Verdict {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let (Some(value), None) = (origins.next(), origins.next()) else {
            // None at all is a non-browser client; two is nothing a browser sends.
            return if headers.contains_key(header::ORIGIN) {
                Verdict::Refused
            } else {
                Verdict::SameSite
            };
        };
        let Some(origin) = value.to_str().ok().and_then(|raw| raw.parse::<Origin>().ok()) else {
            return if self.allowed.contains(&AllowedOrigin::Any) {
                Verdict::CrossSite(value.clone())
            } else {
                Verdict::Refused
            };
        };
        let host = headers
            .get(header::HOST)
            .and_then(|host| Authority::try_from(host.as_bytes()).ok())
            .or_else(|| uri.authority().cloned());
        if host.is_some_and(|host| origin.is_served_from(&host)) {
            return Verdict::SameSite;
        }
        let allowed = self.allowed.iter().any(|allowed| match allowed {
            AllowedOrigin::Any => true,
            AllowedOrigin::Exactly(exact) => *exact == origin,
        });
        if allowed { Verdict::CrossSite(value.clone()) } else { Verdict::Refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn judge(policy: &OriginPolicy, host: &str, origin: Option<&str>) -> Verdict {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).expect("a header value"));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).expect("a header value"));
        }
        policy.judge(&headers, &Uri::from_static("/socket.io/?EIO=4&transport=polling"))
    }

    #[test]
    fn the_own_origin_over_http_or_https_and_no_origin_are_same_site() {
        let policy = OriginPolicy::default();
        for origin in ["http://127.0.0.1:3000", "https://127.0.0.1:3000", "HTTP://127.0.0.1:3000/"]
        {
            assert_eq!(
                judge(&policy, "127.0.0.1:3000", Some(origin)),
                Verdict::SameSite,
                "{origin}"
            );
        }
        assert_eq!(judge(&policy, "127.0.0.1:3000", None), Verdict::SameSite);
        assert_eq!(judge(&policy, "Chat.Example", Some("https://chat.example")), Verdict::SameSite);
        assert_eq!(
            judge(&policy, "chat.example:443", Some("https://chat.example")),
            Verdict::SameSite
        );
        assert_eq!(judge(&policy, "[::1]:3000", Some("http://[::1]:3000")), Verdict::SameSite);
    }

    #[test]
    fn other_sites_null_look_alikes_ports_and_schemes_are_refused() {
        let policy = OriginPolicy::default();
        for origin in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1.evil.example:3000",
            "http://127.0.0.1:3001",
            "http://127.0.0.1",
            "ftp://127.0.0.1:3000",
            "ws://127.0.0.1:3000",
            "chrome-extension://abcdef",
            "http://evil.example@127.0.0.1:3000",
            "http://127.0.0.1:3000/path",
            "http://127.0.0.1:3000 ",
            "",
        ] {
            assert_eq!(
                judge(&policy, "127.0.0.1:3000", Some(origin)),
                Verdict::Refused,
                "{origin}"
            );
        }
        assert_eq!(
            judge(&policy, "chat.example", Some("http://chat.example:8080")),
            Verdict::Refused
        );
    }

    #[test]
    fn an_allowed_origin_is_let_in_and_named_back() {
        let allowed = ["https://app.example:8443".parse().expect("an origin")];
        let policy = OriginPolicy::new(&allowed);
        let origin = "https://app.example:8443";
        assert_eq!(
            judge(&policy, "127.0.0.1:3000", Some(origin)),
            Verdict::CrossSite(HeaderValue::from_static(origin))
        );
        assert_eq!(
            judge(&policy, "127.0.0.1:3000", Some("http://app.example:8443")),
            Verdict::Refused
        );
        assert_eq!(judge(&policy, "127.0.0.1:3000", Some("https://app.example")), Verdict::Refused);
    }

    #[test]
    fn a_star_lets_every_page_in() {
        let policy = OriginPolicy::new(&[AllowedOrigin::Any]);
        assert!(matches!(judge(&policy, "127.0.0.1:3000", Some("null")), Verdict::CrossSite(_)));
        assert!(matches!(
            judge(&policy, "h:1", Some("https://evil.example")),
            Verdict::CrossSite(_)
        ));
    }

    #[test]
    fn allowed_origins_are_checked_when_configured() {
        assert!("https://chat.example.com".parse::<AllowedOrigin>().is_ok());
        assert_eq!("*".parse::<AllowedOrigin>(), Ok(AllowedOrigin::Any));
        for bad in ["chat.example.com", "https://chat.example.com/app", "null", ""] {
            assert!(bad.parse::<AllowedOrigin>().is_err(), "{bad}");
        }
    }
}
