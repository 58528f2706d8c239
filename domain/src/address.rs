//! The one address policy for every URL the server will call on someone's
//! behalf: webhook deliveries, task callbacks, and later tools and MCP
//! servers. Whoever can store a URL can otherwise make the server reach its
//! own network (loopback, private ranges, the cloud metadata service), so
//! every outbound URL is checked here when it is accepted, and the address a
//! worker finally connects to is checked again with [`is_global`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::DomainError;

pub const MAX_URL_BYTES: usize = 2000;

/// Which addresses outbound calls may reach. The default is the policy
/// described above; the only loosening is loopback, for a receiver on the
/// same machine in tests and local setups (`serve --allow-loopback-targets`),
/// never private ranges or the metadata service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// Whether a worker may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        is_global(ip) || (self.allow_loopback && is_loopback(ip))
    }

    /// [`check_url`] under this policy.
    pub fn check_url(self, what: &str, raw: &str) -> Result<url::Url, DomainError> {
        let refuse = |why: &str| DomainError::invalid(format!("{what} refused: {why}"));
        if raw.len() > MAX_URL_BYTES {
            return Err(refuse("longer than 2000 bytes"));
        }
        // The URL parser drops leading and trailing control characters and
        // spaces, so a URL holding one would pass and be stored as given.
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse("control characters and spaces are not allowed"));
        }
        let url = url::Url::parse(raw).map_err(|_| refuse("not a valid URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("only http and https are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("credentials in the url are not allowed"));
        }
        let allowed = match url.host() {
            None => return Err(refuse("no host")),
            Some(url::Host::Ipv4(ip)) => self.allows(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.allows(IpAddr::V6(ip)),
            Some(url::Host::Domain(host)) => {
                let loopback_name = self.allow_loopback
                    && host.trim_end_matches('.').eq_ignore_ascii_case("localhost");
                if is_internal_name(host) && !loopback_name {
                    return Err(refuse("internal host name"));
                }
                true
            }
        };
        if !allowed {
            return Err(refuse("the address is not globally reachable"));
        }
        Ok(url)
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Checks an outbound URL and returns it parsed. `what` names the field in
/// the refusal ("webhook url", "callback_url", …).
///
/// The URL is parsed the way HTTP clients parse it (WHATWG: backslashes,
/// tabs, percent-encoding and numeric hosts such as `2130706433` or `0x7f.1`
/// are normalised), so what is checked is what a client would connect to.
/// IP literals must be globally reachable ([`is_global`]). Host names are
/// checked by name only: what they resolve to can change at any time, so the
/// worker that calls the URL must check the addresses it connects to.
pub fn check_url(what: &str, raw: &str) -> Result<url::Url, DomainError> {
    AddressPolicy::default().check_url(what, raw)
}

fn is_internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = ["localhost", "metadata", "metadata.google.internal"];
    let internal_suffixes = [
        ".localhost",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
    ];
    // A single label is resolved through the local search domains.
    internal.contains(&host.as_str())
        || internal_suffixes.iter().any(|s| host.ends_with(s))
        || !host.contains('.')
}

/// Whether `ip` may be connected to on a tenant's behalf.
///
/// This is the connect-time half of the policy: a delivery worker resolves
/// the URL's host itself and must call this on every address it actually
/// connects to (each redirect hop included) right before connecting. A name
/// that passed [`check_url`] may resolve to an internal address, or resolve
/// differently by the time it is used (DNS rebinding).
///
/// Refused: every block of the IANA IPv4 and IPv6 Special-Purpose Address
/// Registries (RFC 6890,
/// <https://www.iana.org/assignments/iana-ipv4-special-registry>,
/// <https://www.iana.org/assignments/iana-ipv6-special-registry>) whose
/// "Globally Reachable" is False or N/A, multicast, the deprecated IPv6
/// forms (IPv4-compatible `::/96`, site-local `fec0::/10`), and the
/// transition prefixes that lead to an embedded IPv4 address (NAT64, 6to4,
/// Teredo). IPv4-mapped addresses (`::ffff:a.b.c.d`) are judged by the IPv4
/// address they carry, since that is what a socket connects to.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_global_v4(v4),
            None => is_global_v6(v6),
        },
    }
}

/// IPv4 blocks that are not globally reachable: (network, prefix length,
/// what it is). The registry's globally reachable entries (AS112
/// `192.31.196.0/24` and `192.175.48.0/24`, AMT `192.52.193.0/24`) are not
/// here.
#[rustfmt::skip]
const V4_NOT_GLOBAL: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0),         8,  "this network"),
    (Ipv4Addr::new(10, 0, 0, 0),        8,  "private use"),
    (Ipv4Addr::new(100, 64, 0, 0),      10, "shared address space (carrier-grade NAT)"),
    (Ipv4Addr::new(127, 0, 0, 0),       8,  "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0),     16, "link local, incl. the metadata service"),
    (Ipv4Addr::new(172, 16, 0, 0),      12, "private use"),
    // The registry lists two globally reachable /32s inside this block, PCP
    // anycast 192.0.0.9 and TURN anycast 192.0.0.10. They stay refused: they
    // serve those protocols, not HTTP, and anycast reaches whichever instance
    // is nearest, which may well be inside the server's own network.
    (Ipv4Addr::new(192, 0, 0, 0),       24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0),       24, "documentation (TEST-NET-1)"),
    (Ipv4Addr::new(192, 88, 99, 0),     24, "6to4 relay anycast (deprecated)"),
    (Ipv4Addr::new(192, 168, 0, 0),     16, "private use"),
    (Ipv4Addr::new(198, 18, 0, 0),      15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0),    24, "documentation (TEST-NET-2)"),
    (Ipv4Addr::new(203, 0, 113, 0),     24, "documentation (TEST-NET-3)"),
    (Ipv4Addr::new(224, 0, 0, 0),       4,  "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0),       4,  "reserved"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "limited broadcast"),
];

/// IPv6 blocks that are not globally reachable, or that lead to an embedded
/// IPv4 address the policy would not see. `::ffff:0:0/96` is missing on
/// purpose: [`is_global`] judges the IPv4 address it carries.
#[rustfmt::skip]
const V6_NOT_GLOBAL: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED,                          128, "unspecified"),
    (Ipv6Addr::LOCALHOST,                            128, "loopback"),
    // Both of the above are inside it; no stack sends these any more, and
    // `[::127.0.0.1]` would otherwise be a way to write loopback.
    (Ipv6Addr::UNSPECIFIED,                          96,  "IPv4-compatible (deprecated)"),
    // Globally reachable in the registry, but the translator connects to the
    // embedded IPv4 address, which may be internal.
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),  96,  "NAT64 well-known prefix"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),  48,  "local-use IPv4/IPv6 translation"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),      64,  "discard only"),
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),      64,  "dummy prefix"),
    // Includes Teredo (2001::/32, embeds an IPv4 address), benchmarking and
    // ORCHID. Its few globally reachable sub-blocks (PCP, TURN and DNS-SD
    // anycast, AMT, AS112, ORCHIDv2, drone ids) are refused as well: none of
    // them is where an HTTP endpoint lives.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),     23,  "IETF protocol assignments"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32,  "documentation"),
    // A 6to4 relay would connect to the embedded IPv4 address.
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),     16,  "6to4"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),     20,  "documentation"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),     16,  "segment routing (SRv6) SIDs"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),     7,   "unique local, incl. fd00:ec2::254"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),     10,  "link local"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),     10,  "site local (deprecated)"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),     8,   "multicast"),
];

fn mask_v4(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask_v6(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    !V4_NOT_GLOBAL
        .iter()
        .any(|&(net, len, _)| ip & mask_v4(len) == u32::from(net))
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let ip = u128::from(ip);
    // IANA hands out global unicast from 2000::/3 only; the rest of the
    // space is reserved, local or multicast, so nothing public lives there.
    let global_unicast = ip & mask_v6(3) == 0x2000 << 112;
    global_unicast
        && !V6_NOT_GLOBAL
            .iter()
            .any(|&(net, len, _)| ip & mask_v6(len) == u128::from(net))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_spaces_are_refused_where_the_parser_would_drop_them() {
        for url in [
            "\u{0}https://hooks.example.com/x",
            "https://hooks.example.com/x\u{0}",
            " https://hooks.example.com/x",
            "https://hooks.example.com/x\n",
            "https://hooks.example.com/a\u{7f}b",
        ] {
            assert!(
                matches!(check_url("url", url), Err(DomainError::Invalid(why)) if why.contains("control")),
                "{url:?}"
            );
        }
        assert!(check_url("url", "https://hooks.example.com/x").is_ok());
    }

    #[test]
    fn the_tables_hold_networks_not_hosts() {
        for &(net, len, name) in V4_NOT_GLOBAL {
            assert!(len <= 32, "{name}");
            assert_eq!(u32::from(net) & !mask_v4(len), 0, "{net}/{len} {name}");
            assert!(!is_global_v4(net), "{net}/{len} {name}");
        }
        for &(net, len, name) in V6_NOT_GLOBAL {
            assert!(len <= 128, "{name}");
            assert_eq!(u128::from(net) & !mask_v6(len), 0, "{net}/{len} {name}");
            assert!(!is_global(IpAddr::V6(net)), "{net}/{len} {name}");
        }
    }

    #[test]
    fn one_address_of_every_refused_range_is_refused() {
        for (url, range) in [
            // IPv4
            ("http://0.1.2.3/", "0.0.0.0/8"),
            ("http://0.0.0.0/", "0.0.0.0/32"),
            ("http://10.200.3.4/", "10.0.0.0/8"),
            ("http://100.64.0.1/", "100.64.0.0/10"),
            ("http://100.127.255.254/", "100.64.0.0/10"),
            ("http://127.0.0.1:8080/", "127.0.0.0/8"),
            ("http://127.255.255.254/", "127.0.0.0/8"),
            ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
            ("http://172.16.0.1/", "172.16.0.0/12"),
            ("http://172.31.255.1/", "172.16.0.0/12"),
            ("http://192.0.0.1/", "192.0.0.0/29"),
            ("http://192.0.0.8/", "192.0.0.8/32"),
            ("http://192.0.0.9/", "192.0.0.9/32, PCP anycast"),
            ("http://192.0.0.10/", "192.0.0.10/32, TURN anycast"),
            ("http://192.0.0.170/", "192.0.0.170/32"),
            ("http://192.0.0.171/", "192.0.0.171/32"),
            ("http://192.0.2.1/", "192.0.2.0/24"),
            ("http://192.88.99.1/", "192.88.99.0/24"),
            ("http://192.168.1.1/", "192.168.0.0/16"),
            ("http://198.18.0.1/", "198.18.0.0/15"),
            ("http://198.19.255.1/", "198.18.0.0/15"),
            ("http://198.51.100.7/", "198.51.100.0/24"),
            ("http://203.0.113.9/", "203.0.113.0/24"),
            ("http://224.0.0.1/", "224.0.0.0/4"),
            ("http://239.255.255.250/", "224.0.0.0/4"),
            ("http://240.0.0.1/", "240.0.0.0/4"),
            ("http://255.255.255.255/", "255.255.255.255/32"),
            // IPv6
            ("http://[::]/", "::/128"),
            ("http://[::1]/", "::1/128"),
            ("http://[::7f00:1]/", "::/96, IPv4-compatible"),
            ("http://[::127.0.0.1]/", "::/96, IPv4-compatible"),
            ("http://[::8.8.8.8]/", "::/96, IPv4-compatible"),
            (
                "http://[::ffff:127.0.0.1]/",
                "::ffff:0:0/96 carrying loopback",
            ),
            ("http://[::ffff:7f00:1]/", "::ffff:0:0/96 carrying loopback"),
            (
                "http://[::ffff:a9fe:a9fe]/",
                "::ffff:0:0/96 carrying metadata",
            ),
            (
                "http://[::ffff:10.0.0.1]/",
                "::ffff:0:0/96 carrying private",
            ),
            ("http://[64:ff9b::7f00:1]/", "64:ff9b::/96"),
            ("http://[64:ff9b::8.8.8.8]/", "64:ff9b::/96"),
            ("http://[64:ff9b:1::1]/", "64:ff9b:1::/48"),
            ("http://[100::1]/", "100::/64"),
            ("http://[100:0:0:1::1]/", "100:0:0:1::/64"),
            ("http://[2001::1]/", "2001::/32, Teredo"),
            ("http://[2001:1::1]/", "2001:1::1/128, PCP anycast"),
            ("http://[2001:2::1]/", "2001:2::/48"),
            ("http://[2001:3::1]/", "2001:3::/32, AMT"),
            ("http://[2001:10::1]/", "2001:10::/28"),
            ("http://[2001:20::1]/", "2001:20::/28"),
            ("http://[2001:1ff:ffff::1]/", "2001::/23, last address"),
            ("http://[2001:db8::1]/", "2001:db8::/32"),
            ("http://[2002:7f00:1::]/", "2002::/16, 6to4 of loopback"),
            (
                "http://[2002:808:808::1]/",
                "2002::/16, 6to4 of a public address",
            ),
            ("http://[3fff::1]/", "3fff::/20"),
            ("http://[3fff:fff:ffff::1]/", "3fff::/20"),
            ("http://[5f00::1]/", "5f00::/16"),
            ("http://[fc00::1]/", "fc00::/7"),
            ("http://[fd00:ec2::254]/", "fc00::/7, metadata service"),
            ("http://[fe80::1]/", "fe80::/10"),
            ("http://[fec0::1]/", "fec0::/10"),
            ("http://[feff::1]/", "fec0::/10"),
            ("http://[ff02::1]/", "ff00::/8"),
            ("http://[ff0e::1]/", "ff00::/8, global scope"),
            ("http://[4000::1]/", "outside 2000::/3"),
            ("http://[1000::1]/", "outside 2000::/3"),
        ] {
            assert_eq!(
                check_url("callback_url", url),
                Err(DomainError::invalid(
                    "callback_url refused: the address is not globally reachable"
                )),
                "{url} ({range}) must be refused"
            );
        }
    }

    #[test]
    fn numeric_and_encoded_disguises_are_refused() {
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://127.0.0.%31/",
            "http://127.0.0.\t1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[0:0:0:0:0:ffff:7f00:0001]/",
            "https://127.0.0.1\\.evil.com/",
            "http://169.254.169.254\\.x.io/",
            "http://0251.0376.0251.0376/",
            "http://2852039166/",
        ] {
            assert!(
                matches!(check_url("webhook url", url), Err(DomainError::Invalid(_))),
                "{url} must be refused"
            );
        }
    }

    #[test]
    fn urls_that_are_not_plain_public_http_are_refused() {
        for (url, why) in [
            ("ftp://example.com/", "only http and https are allowed"),
            ("file:///etc/passwd", "only http and https are allowed"),
            ("gopher://example.com/", "only http and https are allowed"),
            ("example.com/hook", "not a valid URL"),
            ("http://", "not a valid URL"),
            ("http://1.2.3.4.5/", "not a valid URL"),
            (
                "http://user:pw@example.com/",
                "credentials in the url are not allowed",
            ),
            (
                "http://user@example.com/",
                "credentials in the url are not allowed",
            ),
            ("https://localhost/", "internal host name"),
            ("http://LOCALHOST./", "internal host name"),
            ("http://app.localhost/", "internal host name"),
            ("http://\u{ff4c}ocalhost/", "internal host name"),
            ("http://metadata/", "internal host name"),
            ("http://metadata.google.internal/", "internal host name"),
            ("http://db.svc.cluster.local/", "internal host name"),
            ("http://router.home.arpa/", "internal host name"),
            ("http://printer/", "internal host name"),
        ] {
            assert_eq!(
                check_url("webhook url", url),
                Err(DomainError::invalid(format!("webhook url refused: {why}"))),
                "{url}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(
            check_url("callback_url", &long),
            Err(DomainError::invalid(
                "callback_url refused: longer than 2000 bytes"
            ))
        );
    }

    #[test]
    fn public_addresses_and_names_are_accepted() {
        for url in [
            "http://8.8.8.8/",
            "https://1.1.1.1/dns-query",
            "https://93.184.216.34/",
            "http://192.0.1.1/",
            "http://192.31.196.1/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://198.20.0.1/",
            "http://223.255.255.1/",
            "https://[2606:4700:4700::1111]/",
            "https://[2a00:1450:4001:82b::200e]/",
            "http://[2001:200::1]/",
            "https://[::ffff:8.8.8.8]/",
            "https://example.com/",
            "https://hooks.example.com/a?b=1",
            "http://api.example.org:8443/x",
        ] {
            assert!(check_url("callback_url", url).is_ok(), "{url} must pass");
        }
    }

    #[test]
    fn the_parsed_url_is_what_a_client_would_call() {
        let url = check_url("callback_url", "HTTPS://Example.COM:443/a/../b");
        assert_eq!(
            url.map(|u| u.to_string()),
            Ok("https://example.com/b".to_owned())
        );
    }

    #[test]
    fn connect_time_check_judges_mapped_addresses_by_their_ipv4() {
        let public = Ipv4Addr::new(8, 8, 8, 8);
        let loopback = Ipv4Addr::LOCALHOST;
        assert!(is_global(IpAddr::V4(public)));
        assert!(is_global(IpAddr::V6(public.to_ipv6_mapped())));
        assert!(!is_global(IpAddr::V4(loopback)));
        assert!(!is_global(IpAddr::V6(loopback.to_ipv6_mapped())));
        assert!(!is_global(IpAddr::V6(public.to_ipv6_compatible())));
    }
}
