//! GeoIP: a MaxMind-format database (GeoLite2 or DB-IP, City or Country)
//! read by the `maxminddb` crate, locating the addresses of new sessions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Deserialize;
use stint_core::context::{Geolocate, Location};

/// A GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the GeoIP database {path}: {source}")]
pub struct GeoIpError {
    path: PathBuf,
    #[source]
    source: maxminddb::MaxMindDbError,
}

/// A GeoIP database in memory, shared by every request.
///
/// ```no_run
/// use stint_axum::GeoIp;
///
/// let geo = GeoIp::open("/var/lib/GeoIP/GeoLite2-City.mmdb")?;
/// # Ok::<(), stint_axum::GeoIpError>(())
/// ```
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
    /// One text per city name, shared by the sessions located there (there
    /// are as many as the database has cities, not as sessions).
    cities: Mutex<HashMap<Box<str>, Arc<str>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.reader.metadata().database_type)
            .finish_non_exhaustive()
    }
}

/// The part of a City or Country record that sessions keep.
#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

impl GeoIp {
    /// Reads the database at `path` into memory.
    ///
    /// # Errors
    ///
    /// [`GeoIpError`] when the file cannot be read or is not a MaxMind DB.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoIpError> {
        let path = path.as_ref();
        maxminddb::Reader::open_readfile(path)
            .map(Self::with_reader)
            .map_err(|source| GeoIpError {
                path: path.to_owned(),
                source,
            })
    }

    /// A database from its bytes (a file read elsewhere, a test's).
    ///
    /// # Errors
    ///
    /// [`GeoIpError`] when the bytes are not a MaxMind DB.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoIpError> {
        maxminddb::Reader::from_source(bytes)
            .map(Self::with_reader)
            .map_err(|source| GeoIpError {
                path: PathBuf::from("(bytes)"),
                source,
            })
    }

    fn with_reader(reader: maxminddb::Reader<Vec<u8>>) -> Self {
        Self {
            reader,
            cities: Mutex::new(HashMap::new()),
        }
    }

    /// The database's type, e.g. `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    fn city(&self, name: &str) -> Arc<str> {
        let mut cities = self.cities.lock();
        if let Some(city) = cities.get(name) {
            return Arc::clone(city);
        }
        let city: Arc<str> = name.into();
        cities.insert(name.into(), Arc::clone(&city));
        city
    }
}

impl Geolocate for GeoIp {
    fn locate(&self, ip: IpAddr) -> Location {
        // `::ffff:203.0.113.7` is an IPv4 client behind a dual-stack socket.
        let ip = ip.to_canonical();
        let place = match self
            .reader
            .lookup(ip)
            .and_then(|found| found.decode::<Place<'_>>())
        {
            Ok(Some(place)) => place,
            Ok(None) => return Location::default(),
            Err(e) => {
                tracing::debug!(%ip, error = %e, "GeoIP lookup failed");
                return Location::default();
            }
        };
        Location {
            country: place
                .country
                .and_then(|c| c.iso_code)
                .filter(|code| code.len() == 2)
                .map(Arc::from),
            city: place
                .city
                .and_then(|c| c.names)
                .and_then(|n| n.en)
                .filter(|name| !name.is_empty())
                .map(|name| self.city(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_conformance::mmdb::Builder;

    fn atlas() -> GeoIp {
        GeoIp::from_bytes(
            Builder::new()
                .network([203, 0, 113, 0], 24, "DE", Some("Berlin"))
                .network([198, 51, 100, 0], 25, "NO", None)
                .build(),
        )
        .unwrap()
    }

    #[test]
    fn locates_networks_of_a_maxmind_database() {
        let geo = atlas();
        assert_eq!(geo.database_type(), "Stint-Test-City");
        let at = |ip: &str| {
            let l = geo.locate(ip.parse().unwrap());
            (l.country.map(|c| c.to_string()), l.city.map(|c| c.to_string()))
        };
        let berlin = (Some("DE".to_owned()), Some("Berlin".to_owned()));
        assert_eq!(at("203.0.113.1"), berlin);
        assert_eq!(at("203.0.113.254"), berlin);
        assert_eq!(at("::ffff:203.0.113.9"), berlin, "a v4-mapped address");
        assert_eq!(at("198.51.100.127"), (Some("NO".to_owned()), None));
        assert_eq!(at("198.51.100.128"), (None, None), "outside the /25");
        assert_eq!(at("192.0.2.1"), (None, None));
        assert_eq!(at("2001:db8::1"), (None, None));
    }

    #[test]
    fn sessions_of_one_city_share_its_name() {
        let geo = atlas();
        let (a, b) = (
            geo.locate("203.0.113.1".parse().unwrap()),
            geo.locate("203.0.113.2".parse().unwrap()),
        );
        assert!(Arc::ptr_eq(&a.city.unwrap(), &b.city.unwrap()));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_its_path() {
        let dir = std::env::temp_dir().join(format!("stint-geo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("not.mmdb");
        std::fs::write(&path, b"GeoLite2 would be here").unwrap();
        let e = GeoIp::open(&path).unwrap_err();
        assert!(e.to_string().contains("not.mmdb"), "{e}");
        let e = GeoIp::open(dir.join("missing.mmdb")).unwrap_err();
        assert!(e.to_string().contains("missing.mmdb"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
