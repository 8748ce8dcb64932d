//! Sticky sessions behind a proxy: every Socket.IO response names the
//! process that answered it in a `baatchit_node` cookie.
//!
//! An Engine.IO long-polling session lives in one process's memory, so every
//! request of that session must reach that process. A proxy in front of
//! several processes (`deploy/nginx.conf`) routes by this cookie; the
//! handshake's response sets it, and the client sends it with each later
//! poll. Off unless `--node-name` is given: one process needs no cookie.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use std::fmt;
use std::str::FromStr;

/// The name of the cookie a proxy routes by.
pub const COOKIE: &str = "baatchit_node";

/// Where Socket.IO (and so every Engine.IO session) is served.
const SOCKET_IO_PATH: &str = "/socket.io/";

/// A process's name in a cluster: 1 to 64 ASCII letters, digits, `-`, `_`
/// or `.`, so it is a valid cookie value and a valid nginx `map` key as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeName(String);

/// Why a node name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a node name is 1 to 64 ASCII letters, digits, '-', '_' or '.'")]
pub struct InvalidNodeName;

impl NodeName {
    pub fn parse(raw: &str) -> Result<Self, InvalidNodeName> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if (1..=64).contains(&raw.len()) && raw.chars().all(allowed) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidNodeName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeName {
    type Err = InvalidNodeName;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `Set-Cookie` value naming this process. `HttpOnly`: no script needs
/// it; `SameSite=Lax`: the web app's own requests carry it.
pub fn set_cookie(node: &NodeName) -> HeaderValue {
    let cookie = format!("{COOKIE}={node}; Path=/; HttpOnly; SameSite=Lax");
    HeaderValue::try_from(cookie).expect("a NodeName is visible ASCII, a valid header value")
}

/// Wraps `router` (with Socket.IO already layered on) so that every
/// response under `/socket.io/` carries the cookie naming `node`.
pub fn layer(router: Router, node: &NodeName) -> Router {
    router.layer(middleware::from_fn_with_state(set_cookie(node), add_cookie))
}

async fn add_cookie(State(cookie): State<HeaderValue>, request: Request, next: Next) -> Response {
    let sticky = request.uri().path().starts_with(SOCKET_IO_PATH);
    let mut response = next.run(request).await;
    if sticky {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_name_is_short_plain_ascii() {
        for good in ["n1", "node-2", "eu_west.3", &"x".repeat(64)] {
            assert_eq!(NodeName::parse(good).map(|n| n.to_string()), Ok(good.to_owned()));
        }
        for bad in ["", "a b", "n1;", "n=1", "naïve", "\"n1\"", &"x".repeat(65)] {
            assert_eq!(NodeName::parse(bad), Err(InvalidNodeName), "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_names_the_node_for_every_path_and_no_script() {
        let node = NodeName::parse("n2").expect("a valid name");
        assert_eq!(set_cookie(&node), "baatchit_node=n2; Path=/; HttpOnly; SameSite=Lax");
    }
}
