//! Small GeoIP databases for tests, in MaxMind's DB format (version 2.0).
//!
//! GeoLite2 and DB-IP databases may not be shipped with the tests, so the
//! tests build their own: a few IPv4 networks, each with the country and
//! city fields of a GeoIP2 City record (`country.iso_code`,
//! `country.names.en`, `city.names.en`). The tree is IPv6 with the IPv4
//! space at `::/96`, as in the published databases; 24-bit records.
//!
//! ```
//! use stint_conformance::mmdb::Builder;
//!
//! let bytes = Builder::new()
//!     .network([203, 0, 113, 0], 24, "DE", Some("Berlin"))
//!     .network([198, 51, 100, 0], 25, "NO", None)
//!     .build();
//! assert!(bytes.len() > 100);
//! ```
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/>.

/// A record of the search tree.
#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(u32),
    /// An offset into the data section.
    Data(u32),
}

/// Builds a database from networks. Networks must not overlap.
#[derive(Default)]
pub struct Builder {
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
}

impl Builder {
    /// An empty database.
    pub fn new() -> Self {
        Self {
            nodes: vec![[Record::Empty; 2]],
            data: Vec::new(),
        }
    }

    /// Adds `address/prefix` (IPv4), located in `country` (ISO code) and, when given, `city`.
    #[must_use]
    pub fn network(mut self, address: [u8; 4], prefix: u8, country: &str, city: Option<&str>) -> Self {
        let offset = u32::try_from(self.data.len()).expect("a small database");
        let mut country_fields = vec![("iso_code", Value::Text(country.to_owned()))];
        country_fields.push((
            "names",
            Value::Map(vec![("en", Value::Text(format!("Country {country}")))]),
        ));
        let mut record = vec![("country", Value::Map(country_fields))];
        if let Some(city) = city {
            record.push((
                "city",
                Value::Map(vec![(
                    "names",
                    Value::Map(vec![("en", Value::Text(city.to_owned()))]),
                )]),
            ));
        }
        Value::Map(record).encode(&mut self.data);
        // 96 zero bits, then the address's.
        let bits = (0..96)
            .map(|_| 0u8)
            .chain((0..32).map(|i| (u32::from_be_bytes(address) >> (31 - i)) as u8 & 1))
            .take(96 + usize::from(prefix));
        let bits: Vec<u8> = bits.collect();
        let mut node = 0usize;
        for (depth, bit) in bits.iter().enumerate() {
            let side = usize::from(*bit);
            if depth + 1 == bits.len() {
                self.nodes[node][side] = Record::Data(offset);
                break;
            }
            node = match self.nodes[node][side] {
                Record::Node(next) => next as usize,
                Record::Empty | Record::Data(_) => {
                    let next = self.nodes.len();
                    self.nodes.push([Record::Empty; 2]);
                    self.nodes[node][side] = Record::Node(u32::try_from(next).expect("a small database"));
                    next
                }
            };
        }
        self
    }

    /// The database's bytes: the tree, 16 zero bytes, the data, the metadata.
    pub fn build(self) -> Vec<u8> {
        let count = u32::try_from(self.nodes.len()).expect("a small database");
        let mut out = Vec::new();
        for node in &self.nodes {
            for record in node {
                let value = match *record {
                    Record::Empty => count,
                    Record::Node(n) => n,
                    Record::Data(offset) => count + 16 + offset,
                };
                out.extend_from_slice(&value.to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        Value::Map(vec![
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_795_000_000)),
            ("database_type", Value::Text("Stint-Test-City".to_owned())),
            (
                "description",
                Value::Map(vec![("en", Value::Text("Stint's test networks".to_owned()))]),
            ),
            ("ip_version", Value::U16(6)),
            ("languages", Value::Array(vec![Value::Text("en".to_owned())])),
            ("node_count", Value::U32(count)),
            ("record_size", Value::U16(24)),
        ])
        .encode(&mut out);
        out
    }
}

/// The data section's types that these databases use.
enum Value {
    Text(String),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, Value)>),
    Array(Vec<Value>),
}

impl Value {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Text(s) => {
                control(out, 2, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            Value::U16(n) => unsigned(out, 5, u64::from(*n)),
            Value::U32(n) => unsigned(out, 6, u64::from(*n)),
            Value::U64(n) => unsigned(out, 9, *n),
            Value::Map(entries) => {
                control(out, 7, entries.len());
                for (key, value) in entries {
                    Value::Text((*key).to_owned()).encode(out);
                    value.encode(out);
                }
            }
            Value::Array(items) => {
                control(out, 11, items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// An unsigned integer in as few big-endian bytes as it needs.
fn unsigned(out: &mut Vec<u8>, kind: u8, n: u64) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, kind, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

/// The control byte(s): the type in the top three bits (extended types, 8 and
/// up, in a second byte), the size in the low five.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (first, extended) = if kind > 7 {
        (0, Some(kind - 7))
    } else {
        (kind << 5, None)
    };
    let size_bytes: Vec<u8> = match size {
        0..=28 => {
            out.push(first | size as u8);
            Vec::new()
        }
        29..=284 => {
            out.push(first | 29);
            vec![(size - 29) as u8]
        }
        _ => {
            out.push(first | 30);
            let rest = u16::try_from(size - 285).expect("a small value");
            rest.to_be_bytes().to_vec()
        }
    };
    out.extend(extended);
    out.extend(size_bytes);
}
