//! The cursor format: base64url (no padding) of a key's parts joined by `.`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

/// The longest cursor [`decode`] reads, in bytes.
pub const MAX_CURSOR_LEN: usize = 512;

/// One part of a cursor key. A written part never contains `.`.
pub trait CursorPart: Sized {
    /// The part as text.
    fn write(&self) -> String;
    /// The part from text; `None` when it is not one this type writes.
    fn read(s: &str) -> Option<Self>;
}

/// A sort key a cursor can carry: its parts, in order.
pub trait CursorKey: Sized {
    /// The key's parts (none of them containing `.`).
    fn parts(&self) -> Vec<String>;
    /// The key from its parts; `None` when they do not form one.
    fn from_parts(parts: &[&str]) -> Option<Self>;
}

/// The cursor naming `key`.
pub fn encode<K: CursorKey>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(key.parts().join("."))
}

/// The key a cursor names, if it is a cursor of a `K`.
pub fn decode<K: CursorKey>(cursor: &str) -> Option<K> {
    if cursor.len() > MAX_CURSOR_LEN {
        return None;
    }
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let parts: Vec<&str> = raw.split('.').collect();
    K::from_parts(&parts)
}

macro_rules! integer_parts {
    ($($t:ty),+) => {
        $(
            impl CursorPart for $t {
                fn write(&self) -> String {
                    self.to_string()
                }
                fn read(s: &str) -> Option<Self> {
                    s.parse().ok()
                }
            }
        )+
    };
}

integer_parts!(i32, i64, u32, u64);

impl CursorPart for bool {
    fn write(&self) -> String {
        (if *self { "1" } else { "0" }).to_owned()
    }
    fn read(s: &str) -> Option<Self> {
        match s {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        }
    }
}

impl CursorPart for Uuid {
    fn write(&self) -> String {
        self.hyphenated().to_string()
    }
    fn read(s: &str) -> Option<Self> {
        Uuid::parse_str(s).ok()
    }
}

/// Unix microseconds: the precision PostgreSQL keeps.
impl CursorPart for OffsetDateTime {
    fn write(&self) -> String {
        (self.unix_timestamp_nanos() / 1000).to_string()
    }
    fn read(s: &str) -> Option<Self> {
        let micros = s.parse::<i64>().ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
    }
}

macro_rules! float_parts {
    ($($t:ty => $bits:ty, $width:literal);+ $(;)?) => {
        $(
            impl CursorPart for $t {
                fn write(&self) -> String {
                    format!(concat!("{:0", $width, "x}"), self.to_bits())
                }
                fn read(s: &str) -> Option<Self> {
                    if s.len() != $width || s.starts_with('+') {
                        return None;
                    }
                    let v = <$t>::from_bits(<$bits>::from_str_radix(s, 16).ok()?);
                    v.is_finite().then_some(v)
                }
            }
        )+
    };
}

float_parts!(f32 => u32, 8; f64 => u64, 16);

macro_rules! single_part_keys {
    ($($t:ty),+) => {
        $(
            impl CursorKey for $t {
                fn parts(&self) -> Vec<String> {
                    vec![self.write()]
                }
                fn from_parts(parts: &[&str]) -> Option<Self> {
                    match parts {
                        [a] => <$t>::read(a),
                        _ => None,
                    }
                }
            }
        )+
    };
}

single_part_keys!(i32, i64, u32, u64, bool, Uuid, OffsetDateTime, f32, f64);

macro_rules! tuple_keys {
    ($(($($name:ident),+)),+ $(,)?) => {
        $(
            #[expect(non_snake_case, reason = "each part is bound under its type parameter's name")]
            impl<$($name: CursorPart),+> CursorKey for ($($name,)+) {
                fn parts(&self) -> Vec<String> {
                    let ($($name,)+) = self;
                    vec![$($name.write()),+]
                }
                fn from_parts(parts: &[&str]) -> Option<Self> {
                    match parts {
                        [$($name),+] => Some(($(<$name as CursorPart>::read($name)?,)+)),
                        _ => None,
                    }
                }
            }
        )+
    };
}

tuple_keys!((A, B), (A, B, C), (A, B, C, D));

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap()
    }

    #[test]
    fn the_created_at_id_cursor_is_the_one_identity_issued() {
        let id = Uuid::parse_str("0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b").unwrap();
        let key = (at(1_700_000_000_123_456), id);
        let c = encode(&key);
        let raw = "1700000000123456.0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";
        assert_eq!(c, URL_SAFE_NO_PAD.encode(raw));
        assert!(!c.contains(['=', '+', '/']), "{c}");
        assert_eq!(decode::<(OffsetDateTime, Uuid)>(&c), Some(key));
        // Before 1970, and a simple-form id, read as well.
        let raw = "-5.0190b3c45d6e7f809a1b2c3d4e5f6a7b";
        let old = decode::<(OffsetDateTime, Uuid)>(&URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(old, Some((at(-5), id)));
    }

    #[test]
    fn keys_round_trip() {
        let id = Uuid::now_v7();
        let k = (true, 0.625_f32, id);
        assert_eq!(decode(&encode(&k)), Some(k));
        let k = (u64::MAX, i64::MIN, -0.5_f64);
        assert_eq!(decode(&encode(&k)), Some(k));
        assert_eq!(decode(&encode(&42_i64)), Some(42_i64));
        assert_eq!(decode(&encode(&id)), Some(id));
        let k = (1_u32, 2_i32, false, 3_u64);
        assert_eq!(decode(&encode(&k)), Some(k));
    }

    #[test]
    fn malformed_cursors_are_none() {
        type K = (OffsetDateTime, Uuid);
        let id = Uuid::now_v7();
        let b = |raw: &str| URL_SAFE_NO_PAD.encode(raw);
        for bad in [
            String::new(),
            "nonsense!".to_owned(),
            "YWJj=".to_owned(),
            "a".repeat(MAX_CURSOR_LEN + 1),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x2e, 0x31]),
            b("12"),
            b(&format!("12.{id}.3")),
            b(&format!(".{id}")),
            b(&format!("12x.{id}")),
            b("12.not-a-uuid"),
            // Numbers that overflow, and times out of range.
            b(&format!("99999999999999999999999.{id}")),
            b(&format!("{}.{id}", i64::MAX)),
            b(&format!("{}.{id}", i64::MIN)),
        ] {
            assert_eq!(decode::<K>(&bad), None, "{bad:?}");
        }
        assert_eq!(decode::<u32>(&b("4294967296")), None);
        assert_eq!(decode::<i64>(&b("-")), None);
        assert_eq!(decode::<bool>(&b("2")), None);
        for nan_or_inf in [
            "7fc00000",
            "7f800000",
            "ff800000",
            "+0000000",
            "3f80000",
            "3F8000000",
        ] {
            assert_eq!(decode::<f32>(&b(nan_or_inf)), None, "{nan_or_inf}");
        }
        assert_eq!(decode::<f64>(&b("7ff0000000000000")), None);
        assert_eq!(decode::<f32>(&b("3f800000")), Some(1.0));
        // A padded cursor is not one this module wrote.
        assert_eq!(decode::<i64>("MTI="), None);
        assert_eq!(decode::<i64>("MTI"), Some(12));
    }
}
