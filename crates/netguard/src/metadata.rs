//! Cloud metadata services refused by name, whatever they resolve to.
//!
//! Most metadata endpoints live at addresses the classifier already blocks
//! (169.254.169.254, 100.100.100.200, fd00:ec2::254, 192.0.0.192), but
//! their names can be made to resolve anywhere: a public address today,
//! the real endpoint tomorrow. `metadata.packet.net` passed `net check`
//! while it resolved publicly. These names are never a legitimate tool
//! target, so they are refused before any lookup, and no allow-list entry
//! or `allow_private` grant re-opens them. Names in private-network zones
//! (`.internal`, `.local`, `.home.arpa`) are refused too, unless the owner
//! granted `allow_private` for the host (a provider on `gpu-box.local`).

/// Exact names of metadata services (normalised: lowercase, no trailing dot).
const METADATA_NAMES: &[&str] = &[
    // Google Cloud (also reachable as plain `metadata` on its VMs)
    "metadata",
    "metadata.goog",
    "metadata.google.internal",
    // AWS EC2
    "instance-data",
    "instance-data.ec2.internal",
    // Equinix Metal (formerly Packet)
    "metadata.packet.net",
    "metadata.platformequinix.com",
    // Tencent Cloud
    "metadata.tencentyun.com",
    // Rancher
    "rancher-metadata",
    "rancher-metadata.rancher.internal",
];

/// Suffixes reserved for private networks: a name under them is never a
/// public site (`.internal` is reserved by ICANN for private use, and it
/// is where Google's and AWS's metadata names live; `.local` is mDNS;
/// `.home.arpa` is RFC 8375's home-network zone).
const PRIVATE_SUFFIXES: &[&str] = &["internal", "local", "home.arpa"];

/// Whether a normalised host key names a cloud metadata service.
pub(crate) fn is_metadata_name(key: &str) -> bool {
    METADATA_NAMES.contains(&key)
}

/// Whether a normalised host key lies in a private-network zone.
pub(crate) fn is_private_zone(key: &str) -> bool {
    PRIVATE_SUFFIXES
        .iter()
        .any(|s| key == *s || key.strip_suffix(s).is_some_and(|head| head.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_and_private_zones_are_refused() {
        for key in [
            "metadata.packet.net",
            "metadata.google.internal",
            "metadata",
            "instance-data",
            "anything.ec2.internal",
            "printer.local",
            "nas.home.arpa",
            "internal",
        ] {
            assert!(is_metadata_name(key) || is_private_zone(key), "{key}");
        }
        for key in [
            "example.com",
            "metadata.example.com",
            "packet.net",
            "notinternal",
            "internal.example.com",
            "local.example",
            "myhome.arpa",
        ] {
            assert!(!is_metadata_name(key) && !is_private_zone(key), "{key}");
        }
    }
}
