//! Discovery over DNS: RFC 8484 queries, answers checked before they are believed, CNAMEs
//! followed, and lookups combined into instances or a discovery problem.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::api::ErrorSource;
use edgepurge_core::discovery::{dns_query, instances_from_lookups, parse_answer, DnsError, RecordType};
use edgepurge_core::error::ErrorKind;
use simple_dns::rdata::{RData, A, AAAA, CNAME};
use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, RCODE, TYPE};
use std::net::IpAddr;

fn answer(id: u16, qname: &str, qtype: TYPE, rcode: RCODE, records: Vec<ResourceRecord<'static>>) -> Vec<u8> {
    let mut p = Packet::new_reply(id);
    *p.rcode_mut() = rcode;
    p.questions.push(Question::new(Name::new_unchecked(qname).into_owned(), qtype.into(), CLASS::IN.into(), false));
    p.answers = records;
    p.build_bytes_vec().unwrap()
}

fn a(name: &'static str, ip: [u8; 4]) -> ResourceRecord<'static> {
    ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 60, RData::A(A { address: u32::from_be_bytes(ip) }))
}

#[test]
fn dns_query_is_rfc8484_wire_format() {
    let q = dns_query("instances.example.net", RecordType::Aaaa, 0).unwrap();
    let p = Packet::parse(&q).unwrap();
    assert_eq!(p.id(), 0);
    assert!(p.has_flags(PacketFlag::RECURSION_DESIRED));
    assert!(!p.has_flags(PacketFlag::RESPONSE));
    assert_eq!(p.questions.len(), 1);
    assert_eq!(p.questions[0].qname.to_string(), "instances.example.net");
    assert_eq!(p.questions[0].qtype, TYPE::AAAA.into());
}

#[test]
fn dns_answers_are_checked_before_they_are_believed() {
    let name = "instances.example.net";
    let three = vec![a(name, [192, 0, 2, 1]), a(name, [192, 0, 2, 2]), a(name, [192, 0, 2, 3])];
    let ips = parse_answer(name, RecordType::A, 0, &answer(0, name, TYPE::A, RCODE::NoError, three.clone())).unwrap();
    assert_eq!(ips, ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map(|s| s.parse::<IpAddr>().unwrap()));

    // No AAAA records: an empty list, not an error.
    let none = parse_answer(name, RecordType::Aaaa, 0, &answer(0, name, TYPE::AAAA, RCODE::NoError, vec![])).unwrap();
    assert!(none.is_empty());

    let ok_bytes = answer(0, name, TYPE::A, RCODE::NoError, three.clone());
    let cases: Vec<(Vec<u8>, DnsError)> = vec![
        (answer(7, name, TYPE::A, RCODE::NoError, three.clone()), DnsError::WrongId { expected: 0, got: 7 }),
        (answer(0, "other.example.net", TYPE::A, RCODE::NoError, vec![]), DnsError::NotOurAnswer),
        (answer(0, name, TYPE::AAAA, RCODE::NoError, vec![]), DnsError::NotOurAnswer),
        (dns_query(name, RecordType::A, 0).unwrap(), DnsError::NotOurAnswer),
        (answer(0, name, TYPE::A, RCODE::ServerFailure, vec![]), DnsError::Rcode(format!("SERVFAIL for {name}"))),
        (answer(0, name, TYPE::A, RCODE::NameError, vec![]), DnsError::Rcode(format!("NXDOMAIN for {name}"))),
    ];
    for (bytes, want) in cases {
        assert_eq!(parse_answer(name, RecordType::A, 0, &bytes), Err(want));
    }
    // Truncated anywhere, or garbage: malformed, never a panic.
    for cut in 0..ok_bytes.len() {
        match parse_answer(name, RecordType::A, 0, &ok_bytes[..cut]) {
            Err(_) => {}
            Ok(ips) => assert!(ips.len() < 3, "a truncated answer kept all records at {cut}"),
        }
    }
    assert!(matches!(parse_answer(name, RecordType::A, 0, b"<html>oops</html>"), Err(DnsError::Malformed(_))));
}

#[test]
fn dns_answers_as_servers_write_them_compressed_are_read() {
    // As a resolver writes it: names compressed against the question, the CNAME's target
    // against the question's tail, and a signature record that is not read.
    let name = "instances.example.net";
    let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
    for label in ["instances", "example", "net"] {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    let example = 12 + 1 + 9; // where "example" starts, in the question
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4, b'p', b'o', b'o', b'l', 0xc0, example]);
    let pool = (m.len() - 7) as u8;
    m.extend_from_slice(&[0xc0, pool, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]);
    m.extend_from_slice(&[0xc0, 12, 0, 46, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
    assert_eq!(parse_answer(name, RecordType::A, 0, &m).unwrap(), ["198.51.100.7".parse::<IpAddr>().unwrap()]);
    // The same with REFUSED in the header: an error that names it.
    m[3] = 0x85;
    assert_eq!(parse_answer(name, RecordType::A, 0, &m), Err(DnsError::Rcode(format!("REFUSED for {name}"))));
    // A record claiming more data than the message holds: malformed.
    m[3] = 0x80;
    let last = m.len() - 4;
    m[last] = 9;
    assert!(matches!(parse_answer(name, RecordType::A, 0, &m), Err(DnsError::Malformed(_))));
}

#[test]
fn dns_answers_follow_cnames_and_ignore_strangers() {
    let name = "instances.example.net";
    let records = vec![
        ResourceRecord::new(
            Name::new_unchecked(name),
            CLASS::IN,
            60,
            RData::CNAME(CNAME(Name::new_unchecked("pool.example.net"))),
        ),
        a("pool.example.net", [198, 51, 100, 7]),
        a("unrelated.example.org", [203, 0, 113, 9]),
    ];
    let ips = parse_answer(name, RecordType::A, 0, &answer(0, name, TYPE::A, RCODE::NoError, records)).unwrap();
    assert_eq!(ips, ["198.51.100.7".parse::<IpAddr>().unwrap()]);

    let v6 = ResourceRecord::new(Name::new_unchecked(name), CLASS::IN, 60, RData::AAAA(AAAA { address: 1 }));
    let ips = parse_answer(name, RecordType::Aaaa, 0, &answer(0, name, TYPE::AAAA, RCODE::NoError, vec![v6])).unwrap();
    assert_eq!(ips, ["::1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn lookups_combine_into_instances_or_a_discovery_problem() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let got = instances_from_lookups(
        "n.example",
        6081,
        vec![
            (RecordType::A, Ok(vec![ip("192.0.2.2"), ip("192.0.2.1")])),
            (RecordType::Aaaa, Ok(vec![ip("2001:db8::5")])),
        ],
    )
    .unwrap();
    let names: Vec<String> = got.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["192.0.2.1:6081", "192.0.2.2:6081", "[2001:db8::5]:6081"]);

    let down = || Err(DnsError::Unreachable("connection refused".into()));
    let err =
        instances_from_lookups("n.example", 80, vec![(RecordType::A, down()), (RecordType::Aaaa, down())]).unwrap_err();
    assert_eq!((err.status(), err.kind), (503, ErrorKind::DiscoveryUnavailable));
    assert!(err.detail.contains("A lookup of n.example") && err.detail.contains("AAAA lookup"), "{}", err.detail);

    // One lookup failing fails discovery: instances could be missing.
    let half =
        vec![(RecordType::A, Ok(vec![ip("192.0.2.1")])), (RecordType::Aaaa, Err(DnsError::Rcode("SERVFAIL".into())))];
    assert_eq!(instances_from_lookups("n.example", 80, half).unwrap_err().status(), 502);

    let empty = vec![(RecordType::A, Ok(vec![])), (RecordType::Aaaa, Ok(vec![]))];
    let err = instances_from_lookups("n.example", 80, empty).unwrap_err();
    assert_eq!(err.status(), 502);
    assert_eq!(err.problem().source, ErrorSource::Discovery);
}
