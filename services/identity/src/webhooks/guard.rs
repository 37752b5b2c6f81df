//! The guard against server-side request forgery: webhook targets may not resolve to
//! private, loopback, link-local or otherwise special addresses, unless they fall in
//! `WEBHOOK_ALLOWED_NETWORKS`.
//!
//! It is applied when a subscription is saved (the URL must resolve, and only to allowed
//! addresses) and again on every delivery, inside the HTTP client's resolver, so a name that
//! later resolves somewhere else (DNS rebinding) is refused at connect time. Redirects are
//! never followed. Plain `http` is accepted only for targets inside the allowed networks.
//! Resolving a name takes at most [`RESOLVE_TIMEOUT`] (less for deliveries whose timeout is
//! shorter): a slow resolver fails the attempt instead of holding it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use platform::net::Cidr;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is one a public webhook must never reach.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_v4(v4);
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 (embeds IPv4)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2002) // 6to4 (embeds IPv4)
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0) // IPv4-compatible
        }
    }
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// The longest a name may take to resolve.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which targets are acceptable.
#[derive(Debug, Clone)]
pub struct TargetPolicy {
    allowed: Vec<Cidr>,
    resolve_timeout: Duration,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl TargetPolicy {
    /// A policy that lets `allowed` through although those networks are special.
    pub fn new(allowed: Vec<Cidr>) -> Self {
        Self {
            allowed,
            resolve_timeout: RESOLVE_TIMEOUT,
        }
    }

    /// The same policy, giving up on a name that does not resolve within `timeout` (at most
    /// [`RESOLVE_TIMEOUT`]).
    pub fn resolving_within(mut self, timeout: Duration) -> Self {
        self.resolve_timeout = timeout.min(RESOLVE_TIMEOUT);
        self
    }

    /// Whether `ip` may be reached.
    pub fn allows(&self, ip: IpAddr) -> bool {
        !is_special(ip) || self.in_allowed(ip)
    }

    fn in_allowed(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|c| c.contains(ip))
    }

    /// Checks a subscription URL: its form, and where it resolves now. Returns the message
    /// for the `url` field when it is refused.
    pub async fn check_url(&self, raw: &str) -> Result<Url, String> {
        if raw.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        let url = Url::parse(raw).map_err(|_| "must be an absolute http(s) URL".to_owned())?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("must be an https URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let host = url
            .host_str()
            .ok_or_else(|| "must name a host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = resolve(&host, port, self.resolve_timeout)
            .await
            .map_err(|_| format!("host {host} does not resolve"))?;
        if addrs.is_empty() {
            return Err(format!("host {host} does not resolve"));
        }
        if addrs.iter().any(|a| !self.allows(a.ip())) {
            return Err("resolves to a private, loopback or link-local address".into());
        }
        if url.scheme() == "http" && !addrs.iter().all(|a| self.in_allowed(a.ip())) {
            return Err("must be an https URL".into());
        }
        Ok(url)
    }

    /// Checks an IP-literal host before connecting (the resolver never sees those).
    pub fn check_literal(&self, url: &Url) -> Result<(), String> {
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let Ok(ip) = host.parse::<IpAddr>() else {
            return Ok(());
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(format!("target address {ip} is refused"))
        }
    }
}

/// The addresses of `host`, or an error when it does not resolve within `within`.
async fn resolve(host: &str, port: u16, within: Duration) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match tokio::time::timeout(within, tokio::net::lookup_host((host, port))).await {
        Ok(addrs) => Ok(addrs?.collect()),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "resolving {host} took longer than {} ms",
                within.as_millis()
            ),
        )),
    }
}

/// The delivery client's resolver: refuses names that resolve to any refused address.
#[derive(Debug, Clone)]
pub struct GuardedResolver(pub Arc<TargetPolicy>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host, 0, policy.resolve_timeout).await?;
            if let Some(bad) = addrs.iter().find(|a| !policy.allows(a.ip())) {
                let msg = format!("{host} resolves to refused address {}", bad.ip());
                return Err(msg.into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_addresses_are_refused_and_public_ones_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(is_special(ip(bad)), "{bad}");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(!is_special(ip(good)), "{good}");
        }
        assert!(is_special(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
    }

    #[test]
    fn the_allowlist_lets_chosen_networks_through() {
        let p = TargetPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(p.allows(ip("127.0.0.1")));
        assert!(!p.allows(ip("10.0.0.1")));
        assert!(p.allows(ip("8.8.8.8")));
    }

    #[tokio::test]
    async fn urls_are_checked_for_form_and_destination() {
        let strict = TargetPolicy::default();
        for (url, why) in [
            ("ftp://8.8.8.8/x", "https"),
            ("not a url", "absolute"),
            ("https://user:pw@8.8.8.8/", "credentials"),
            ("https://127.0.0.1/hook", "private"),
            ("https://localhost/hook", "private"),
            ("https://[::1]:8443/hook", "private"),
            ("https://169.254.169.254/latest/meta-data", "private"),
            ("http://8.8.8.8/hook", "https"),
        ] {
            let err = strict.check_url(url).await.unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        assert!(strict.check_url("https://8.8.8.8/hook").await.is_ok());
        let dev = TargetPolicy::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(dev.check_url("http://127.0.0.1:9000/hook").await.is_ok());
        assert!(dev.check_url("https://10.0.0.1/hook").await.is_err());
    }
}
