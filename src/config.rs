//! Settings: built-in defaults, overridden by `BAATCHIT_*` environment
//! variables, overridden by command-line flags.

use crate::http::NodeName;
use crate::http::origin::AllowedOrigin;
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

/// Baat-Chit: a realtime chat server speaking Socket.IO v4.
#[derive(Clone, Parser)]
#[command(name = "baat-chit", version, about, long_about = None)]
pub struct Config {
    /// Address and port to serve the web app and Socket.IO on.
    #[arg(long, env = "BAATCHIT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Where history is kept: sqlite://PATH (one process; the file is
    /// created if missing) or postgres://USER[:PASSWORD]@HOST:PORT/DB (shared
    /// by several processes; the database is created if missing).
    #[arg(long, env = "BAATCHIT_DATABASE", default_value = "sqlite://baat-chit.db")]
    pub database: String,

    /// Seconds a user whose connection dropped stays present in its rooms,
    /// so a reload or a network blip makes no leave/join notices (0 allowed).
    #[arg(long, env = "BAATCHIT_PRESENCE_GRACE", default_value_t = 5)]
    pub presence_grace: u64,

    /// Largest packet a client may send, in bytes; a larger one closes that
    /// connection.
    #[arg(long, env = "BAATCHIT_MAX_PAYLOAD", default_value_t = 16384)]
    pub max_payload: u64,

    /// Seconds after which "typing" ends by itself unless renewed.
    #[arg(long, env = "BAATCHIT_TYPING_EXPIRY", default_value_t = 6)]
    pub typing_expiry: u64,

    /// Messages one connection may send per second (bursts of twice that);
    /// 0 = no limit.
    #[arg(long, env = "BAATCHIT_RATE_LIMIT", default_value_t = 20, value_name = "PER_SECOND")]
    pub rate_limit: u32,

    /// Another web origin whose pages may connect, e.g.
    /// https://chat.example.com (repeatable; `*` lets any page in). The
    /// server's own origin, as reached through its Host header, and
    /// clients that send no Origin (not browsers) are always let in.
    #[arg(
        long = "allowed-origin",
        env = "BAATCHIT_ALLOWED_ORIGINS",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<AllowedOrigin>,

    /// Open connections one client address may have (IPv6: per /64);
    /// more are refused at the handshake. 0 means no limit.
    #[arg(long, env = "BAATCHIT_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: u32,

    /// Count connections under the last X-Forwarded-For address (set by
    /// the reverse proxy in front) instead of the TCP peer. Only behind a
    /// proxy: otherwise clients could claim any address.
    #[arg(long, env = "BAATCHIT_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// Seconds a new connection has to join the Socket.IO namespace
    /// before it is closed (at least 1; a load test that needs longer can
    /// set any large value).
    #[arg(
        long,
        env = "BAATCHIT_CONNECT_TIMEOUT",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub connect_timeout: u64,

    /// Seconds a client has to send a request's head (from the moment it
    /// connects or its previous response ends) and a polling request's
    /// body: slower heads (slowloris) close the connection, slower bodies
    /// get 408 and close it (at least 1).
    #[arg(
        long,
        env = "BAATCHIT_REQUEST_TIMEOUT",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub request_timeout: u64,

    /// Messages one user may send per second across all its connections
    /// (bursts of twice that), counted per server process; 0 = no limit.
    #[arg(long, env = "BAATCHIT_USER_RATE_LIMIT", default_value_t = 30, value_name = "PER_SECOND")]
    pub user_rate_limit: u32,

    /// Joins one connection may make per minute (all at once if it likes);
    /// 0 = no limit.
    #[arg(long, env = "BAATCHIT_JOIN_RATE_LIMIT", default_value_t = 30, value_name = "PER_MINUTE")]
    pub join_rate_limit: u32,

    /// Rooms one connection may be in at once; 0 = no limit.
    #[arg(
        long,
        env = "BAATCHIT_MAX_ROOMS_PER_CONNECTION",
        default_value_t = 50,
        value_name = "ROOMS"
    )]
    pub max_rooms_per_connection: u32,

    /// Shortest time between two "typing" notices the others get from one
    /// user in one room (renewals in between only push its expiry back),
    /// and between two starts of typing by one connection after three in a
    /// row; 0 = forward every one.
    #[arg(
        long,
        env = "BAATCHIT_TYPING_INTERVAL_MS",
        default_value_t = 1000,
        value_name = "MILLISECONDS"
    )]
    pub typing_interval_ms: u64,

    /// Searches per connection per second (bursts of twice that); 0 = no
    /// limit.
    #[arg(long, env = "BAATCHIT_SEARCH_RATE_LIMIT", default_value_t = 2, value_name = "N")]
    pub search_rate_limit: u32,

    /// Cluster mode: redis://HOST:PORT shared by every process of one chat
    /// (presence and the bus between processes; use with a postgres://
    /// --database). Without it the server runs alone.
    #[arg(long, env = "BAATCHIT_REDIS")]
    pub redis: Option<String>,

    /// Prefix of every Redis key and channel, so several chats (or test
    /// runs) can share one Redis.
    #[arg(long, env = "BAATCHIT_REDIS_PREFIX", default_value = "baatchit")]
    pub redis_prefix: String,

    /// This process's name behind a proxy (letters, digits, '-', '_', '.'):
    /// Socket.IO responses then set the cookie `baatchit_node=NAME`, which
    /// the proxy routes by so a polling client stays on this process.
    #[arg(long, env = "BAATCHIT_NODE_NAME")]
    pub node_name: Option<NodeName>,
}

impl Config {
    /// Reads flags and environment; exits with usage help on bad input.
    pub fn load() -> Self {
        Self::parse()
    }

    pub fn presence_grace(&self) -> Duration {
        Duration::from_secs(self.presence_grace)
    }

    pub fn typing_expiry(&self) -> Duration {
        Duration::from_secs(self.typing_expiry)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout)
    }

    pub fn typing_interval(&self) -> Duration {
        Duration::from_millis(self.typing_interval_ms)
    }
}

/// The database URL may hold a password, so Debug shows only its scheme.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.database.split(':').next().unwrap_or_default();
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &format_args!("{scheme}://…"))
            .field("presence_grace", &self.presence_grace)
            .field("max_payload", &self.max_payload)
            .field("typing_expiry", &self.typing_expiry)
            .field("rate_limit", &self.rate_limit)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("trust_proxy", &self.trust_proxy)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("user_rate_limit", &self.user_rate_limit)
            .field("join_rate_limit", &self.join_rate_limit)
            .field("max_rooms_per_connection", &self.max_rooms_per_connection)
            .field("typing_interval_ms", &self.typing_interval_ms)
            .field("search_rate_limit", &self.search_rate_limit)
            .field("redis", &self.redis.as_ref().map(|_| "redis://…"))
            .field("redis_prefix", &self.redis_prefix)
            .field("node_name", &self.node_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_arguments_the_server_uses_the_embedded_defaults() {
        let config = Config::parse_from(["baat-chit"]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database, "sqlite://baat-chit.db");
        assert_eq!(config.presence_grace, 5);
        assert_eq!(config.max_payload, 16384);
        assert_eq!((config.rate_limit, config.user_rate_limit), (20, 30));
        assert_eq!((config.join_rate_limit, config.max_rooms_per_connection), (30, 50));
        assert_eq!(config.typing_interval_ms, 1000);
        assert_eq!(config.search_rate_limit, 2);
        assert!(config.allowed_origins.is_empty());
        assert_eq!(config.max_connections_per_ip, 256);
        assert!(!config.trust_proxy);
        assert_eq!(config.connect_timeout(), Duration::from_secs(10));
        assert_eq!(config.request_timeout(), Duration::from_secs(10));
        assert_eq!(config.node_name, None, "one process sets no sticky cookie");
    }

    #[test]
    fn allowed_origins_repeat_or_come_comma_separated() {
        let config = Config::parse_from([
            "baat-chit",
            "--allowed-origin",
            "https://a.example,https://b.example:8443",
            "--allowed-origin",
            "http://c.example",
        ]);
        assert_eq!(config.allowed_origins.len(), 3);
        assert!(Config::try_parse_from(["baat-chit", "--allowed-origin", "a.example"]).is_err());
    }

    #[test]
    fn a_connect_or_request_timeout_of_zero_is_refused() {
        assert!(Config::try_parse_from(["baat-chit", "--connect-timeout", "0"]).is_err());
        assert!(Config::try_parse_from(["baat-chit", "--request-timeout", "0"]).is_err());
    }

    #[test]
    fn a_node_name_that_is_not_a_plain_cookie_value_is_refused() {
        assert!(Config::try_parse_from(["baat-chit", "--node-name", "n1"]).is_ok());
        assert!(Config::try_parse_from(["baat-chit", "--node-name", "n1; Path=/x"]).is_err());
    }

    #[test]
    fn debug_output_shows_every_limit() {
        let debug = format!("{:?}", Config::parse_from(["baat-chit", "--user-rate-limit", "7"]));
        for field in ["user_rate_limit: 7", "join_rate_limit", "max_rooms", "typing_interval"] {
            assert!(debug.contains(field), "{field} missing from {debug}");
        }
    }

    #[test]
    fn debug_output_hides_database_credentials() {
        let config = Config::parse_from(["baat-chit", "--database", "postgres://u:secret@h/db"]);
        assert!(!format!("{config:?}").contains("secret"));
    }
}
