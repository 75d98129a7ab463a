//! `holdfast export PACKET --bagit OUT`: the packet as a BagIt 1.0 bag
//! (RFC 8493), for archives that keep bags.
//!
//! The payload (`data/`) is the packet, byte for byte, seal included. The
//! bag is deterministic: `Bagging-Date` is the packet's date (an input,
//! never the clock), `External-Identifier` its tree hash, `Payload-Oxum`
//! the payload's octets and file count; `manifest-sha256.txt` lists every
//! payload file, `tagmanifest-sha256.txt` every tag file. Paths in the
//! manifests are percent-encoded as RFC 8493 section 2.1.3 says (CR, LF and
//! `%`); a path or a value the bag cannot represent is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Packet, mode_of};
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::packet::manifest::{MANIFEST_FILE, PacketManifest};

/// `bagit.txt`, the bag declaration.
pub const DECLARATION: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// A payload path as a manifest spells it (RFC 8493 section 2.1.3).
pub fn encode_path(path: &str) -> Result<String> {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c if c.is_control() => {
                return Err(Error::malformed(
                    PathBuf::from(path),
                    format!("a BagIt manifest cannot carry the control character {c:?} in a path"),
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One `Label: value` line of `bag-info.txt`; a line break in the value is
/// continued on an indented line (RFC 8493 section 2.2.2).
fn tag(label: &str, value: &str) -> Result<String> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(Error::malformed(
            PathBuf::from(MANIFEST_FILE),
            format!("{label}: a control character cannot be carried in bag-info.txt"),
        ));
    }
    let lines: Vec<&str> = value
        .split(['\n', '\r'])
        .filter(|l| !l.trim().is_empty())
        .collect();
    Ok(format!("{label}: {}\n", lines.join("\n  ")))
}

/// The bag's files (relative path to bytes and mode), a pure function of
/// the packet.
pub fn bag(packet: &Packet) -> Result<BTreeMap<String, (Vec<u8>, u32)>> {
    let m: PacketManifest = packet.json(MANIFEST_FILE)?;
    let mut files = BTreeMap::new();
    let mut manifest = String::new();
    let mut octets: u64 = 0;
    for (path, bytes) in &packet.files {
        let rel = format!("data/{path}");
        manifest.push_str(&format!("{}  {}\n", sha256_hex(bytes), encode_path(&rel)?));
        octets += bytes.len() as u64;
        files.insert(rel, (bytes.clone(), mode_of(path)));
    }
    let mut info = String::new();
    info.push_str(&tag("Bagging-Date", &m.packet.date)?);
    info.push_str(&tag("Bag-Software-Agent", "holdfast")?);
    info.push_str(&tag("External-Identifier", &packet.tree_sha256)?);
    info.push_str(&tag("External-Description", &m.packet.title)?);
    info.push_str(&tag("Internal-Sender-Identifier", &m.packet.macro_name)?);
    info.push_str(&tag("Holdfast-Scoping-Status", &m.status.scoping_status)?);
    info.push_str(&tag("Holdfast-Decision", &m.status.decision)?);
    info.push_str(&tag(
        "Payload-Oxum",
        &format!("{octets}.{}", packet.files.len()),
    )?);
    let tags = [
        ("bagit.txt", DECLARATION.as_bytes().to_vec()),
        ("bag-info.txt", info.into_bytes()),
        ("manifest-sha256.txt", manifest.into_bytes()),
    ];
    let mut tagmanifest = String::new();
    for (name, bytes) in tags {
        tagmanifest.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
        files.insert(name.to_string(), (bytes, 0o644));
    }
    files.insert(
        "tagmanifest-sha256.txt".to_string(),
        (tagmanifest.into_bytes(), 0o644),
    );
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded_as_the_rfc_says() {
        assert_eq!(encode_path("data/a%b\nc\rd").unwrap(), "data/a%25b%0Ac%0Dd");
        assert_eq!(
            encode_path("data/plain name.json").unwrap(),
            "data/plain name.json"
        );
        assert!(encode_path("data/a\u{7}b").is_err());
    }

    #[test]
    fn multi_line_values_are_continued_and_control_characters_refused() {
        assert_eq!(tag("A", "x\ny").unwrap(), "A: x\n  y\n");
        assert!(tag("A", "x\u{1b}y").is_err());
    }
}
