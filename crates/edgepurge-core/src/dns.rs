//! The DNS message format (RFC 1035 section 4.1), as much of it as discovery needs: a query with
//! one question, and from an answer its header, questions and answer records (A, AAAA and
//! CNAME data; other types are kept without it). The authority and additional sections are not
//! read.
//!
//! An answer comes from the network, so nothing in it is trusted: every length is checked
//! against the message, labels are at most 63 octets and names 255 (RFC 1035 section 2.3.4),
//! and a compression pointer must point strictly backwards, so no name can loop. A label's
//! octets outside letters, digits, `-` and `_` are written `\DDD` (RFC 1035 section 5.1), so a
//! label holding a dot can never pass for two labels.

/// Record types discovery asks for or follows.
pub const TYPE_A: u16 = 1;
/// A canonical name (an alias).
pub const TYPE_CNAME: u16 = 5;
/// An IPv6 address.
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const HEADER: usize = 12;
const MAX_NAME: usize = 255;
const MAX_LABEL: usize = 63;

/// Response codes (RFC 1035 section 4.1.1, RFC 6895).
pub const RCODE_NOERROR: u8 = 0;
/// The name does not exist.
pub const RCODE_NXDOMAIN: u8 = 3;
/// The server failed.
pub const RCODE_SERVFAIL: u8 = 2;

/// The name of an RCODE as RFC 6895 registers it.
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE {n}"),
    }
}

/// A query for `name`'s records of type `qtype` in class IN, with recursion desired.
pub fn query(name: &str, qtype: u16, id: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(HEADER + name.len() + 6);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00]); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question, no records
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL || !label.is_ascii() {
            return Err(format!("bad label {label:?} in {name:?}"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() - HEADER > MAX_NAME {
        return Err(format!("name longer than {MAX_NAME} octets: {name:?}"));
    }
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// A parsed message: what discovery checks and reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The ID.
    pub id: u16,
    /// Whether the QR bit says it is a response.
    pub response: bool,
    /// The RCODE (the header's four bits).
    pub rcode: u8,
    /// Each question's name (lower case, no trailing dot) and type.
    pub questions: Vec<(String, u16)>,
    /// The answer section.
    pub answers: Vec<Record>,
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name (lower case, no trailing dot).
    pub name: String,
    /// What it holds.
    pub data: Data,
}

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// An IPv4 address (class IN).
    A([u8; 4]),
    /// An IPv6 address (class IN).
    Aaaa([u8; 16]),
    /// The name this one is an alias of (lower case, no trailing dot).
    Cname(String),
    /// Any other type or class, not read.
    Other,
}

/// Parses a message, refusing anything that does not fit the format.
pub fn parse(msg: &[u8]) -> Result<Message, String> {
    let u16_at = |at: usize| -> Result<u16, String> {
        msg.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "message ends early".to_string())
    };
    let id = u16_at(0)?;
    let flags = u16_at(2)?;
    let (qdcount, ancount) = (u16_at(4)?, u16_at(6)?);
    u16_at(10)?;
    let mut at = HEADER;
    let mut questions = Vec::new();
    for _ in 0..qdcount {
        let (name, next) = name_at(msg, at)?;
        questions.push((name, u16_at(next)?));
        u16_at(next + 2)?;
        at = next + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..ancount {
        let (name, next) = name_at(msg, at)?;
        let (rtype, class, len) = (u16_at(next)?, u16_at(next + 2)?, usize::from(u16_at(next + 8)?));
        let start = next + 10;
        let rdata = msg.get(start..start + len).ok_or("record data runs past the message")?;
        let data = match (rtype, class) {
            (TYPE_A, CLASS_IN) => Data::A(rdata.try_into().map_err(|_| format!("A record of {len} octets"))?),
            (TYPE_AAAA, CLASS_IN) => Data::Aaaa(rdata.try_into().map_err(|_| format!("AAAA record of {len} octets"))?),
            (TYPE_CNAME, _) => {
                let (target, end) = name_at(msg, start)?;
                if end != start + len {
                    return Err("CNAME data is not one name".into());
                }
                Data::Cname(target)
            }
            _ => Data::Other,
        };
        answers.push(Record { name, data });
        at = start + len;
    }
    Ok(Message { id, response: flags & 0x8000 != 0, rcode: (flags & 0x000f) as u8, questions, answers })
}

/// The name starting at `at`, and where the data after it starts.
fn name_at(msg: &[u8], mut at: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut octets = 1; // the root label
    let mut after = None;
    loop {
        let len = usize::from(*msg.get(at).ok_or("name runs past the message")?);
        match len & 0xc0 {
            0xc0 => {
                let low = usize::from(*msg.get(at + 1).ok_or("name runs past the message")?);
                let target = ((len & 0x3f) << 8) | low;
                if target >= at {
                    return Err("compression pointer does not point backwards".into());
                }
                after.get_or_insert(at + 2);
                at = target;
            }
            0 if len == 0 => return Ok((name, after.unwrap_or(at + 1))),
            0 => {
                let label = msg.get(at + 1..at + 1 + len).ok_or("label runs past the message")?;
                octets += len + 1;
                if octets > MAX_NAME {
                    return Err(format!("name longer than {MAX_NAME} octets"));
                }
                if !name.is_empty() {
                    name.push('.');
                }
                for &b in label {
                    match b {
                        b'A'..=b'Z' => name.push(char::from(b.to_ascii_lowercase())),
                        b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => name.push(char::from(b)),
                        _ => name.push_str(&format!("\\{b:03}")),
                    }
                }
                at += 1 + len;
            }
            _ => return Err("unknown label type".into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_pointers_only_go_back() {
        let mut msg = query("a.example", TYPE_A, 0).unwrap();
        assert_eq!(name_at(&msg, HEADER).unwrap(), ("a.example".into(), HEADER + 11));
        // A pointer forwards, and one to itself: refused; one backwards is followed.
        assert_eq!(msg.len(), 27);
        msg.extend_from_slice(&[0xc0, 29, 0xc0, 29, 0xc0, 12]);
        assert!(name_at(&msg, 27).is_err());
        assert!(name_at(&msg, 29).is_err());
        assert_eq!(name_at(&msg, 31).unwrap(), ("a.example".into(), 33));
        // A label holding a dot cannot pass for two labels.
        let dotted = [3, b'a', b'.', b'B', 0];
        assert_eq!(name_at(&dotted, 0).unwrap().0, "a\\046b");
        assert!(query(&format!("{}.example", "x".repeat(64)), TYPE_A, 0).is_err());
        assert!(query(&["abcdefghi"; 26].join("."), TYPE_A, 0).is_err(), "260 octets");
        assert!(query("a..example", TYPE_A, 0).is_err());
    }
}
