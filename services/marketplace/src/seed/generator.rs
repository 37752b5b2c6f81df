//! Deterministic synthetic listings: the same seed gives the same catalogue.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::words::*;
use crate::repo::seed::SyntheticListing;

/// SplitMix64: small, fast and good enough to vary synthetic text.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

fn plural(word: &str) -> String {
    if let Some(stem) = word
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o']))
    {
        format!("{stem}ies")
    } else if word.ends_with(['s', 'x']) || word.ends_with("ch") || word.ends_with("sh") {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "An"
    } else {
        "A"
    }
}

fn title(words: &str) -> String {
    words
        .split([' ', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Makes listings registered evenly over the two years before `now`.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    publishers: Vec<(Uuid, String)>,
    did_host: String,
    start: OffsetDateTime,
    step: Duration,
    index: u64,
}

impl Generator {
    /// A generator of `total` listings from `seed`; DIDs name `did_host`.
    pub fn new(seed: u64, total: u64, did_host: &str, now: OffsetDateTime) -> Self {
        let mut rng = Rng(seed);
        let mut publishers = Vec::with_capacity(5000);
        let mut seen = std::collections::HashSet::new();
        while publishers.len() < 5000 {
            let region = rng.pick(REGIONS);
            let name = format!(
                "{} {} {region}",
                rng.pick(BRANDS),
                rng.pick(PUBLISHER_ENDINGS)
            );
            let name = name.trim_end().to_owned();
            // 14,000 distinct names exist, so this ends.
            if seen.insert(name.clone()) {
                let id = uuid::Builder::from_random_bytes(rng.next_bytes()).into_uuid();
                publishers.push((id, name));
            }
        }
        let span = Duration::days(730);
        Self {
            rng,
            publishers,
            did_host: did_host.to_owned(),
            start: now - span,
            step: span / (total.max(1) as f64),
            index: 0,
        }
    }

    fn description(&mut self, object: &str, role: (&str, &str, &str)) -> String {
        let r = &mut self.rng;
        let (noun, verb, _) = role;
        let objects = plural(&object.replace('-', " "));
        let other = plural(&r.pick(OBJECTS).replace('-', " "));
        let (industry, quality) = (r.pick(INDUSTRIES), r.pick(QUALITIES));
        match r.below(6) {
            0 => format!(
                "{} {noun} for {objects}: takes {} and turns them into {}. Built for {industry} teams that need {quality}.",
                article(noun),
                r.pick(SOURCES),
                r.pick(TARGETS)
            ),
            1 => format!(
                "Reads {} from {} and {verb} every one of your {objects}, with {quality}. Popular with {industry} operations.",
                r.pick(SOURCES),
                r.pick(SYSTEMS)
            ),
            2 => format!(
                "This {noun} {verb} {objects} and {other}, then hands the results to {}.",
                r.pick(TARGETS)
            ),
            3 => format!(
                "{} {objects} at scale for {industry} companies. Works with {} and {}; {quality} by design.",
                title(verb).split(' ').next().unwrap_or("Handles"),
                r.pick(SYSTEMS),
                r.pick(SYSTEMS)
            ),
            4 => format!(
                "Keeps {objects} in {} under control and flags anything unusual. For {industry} teams who value {quality}.",
                r.pick(SYSTEMS)
            ),
            _ => format!(
                "Turns messy {} into {} so {industry} analysts can spend their time on {other} instead.",
                r.pick(SOURCES),
                r.pick(TARGETS)
            ),
        }
    }

    /// The next listing.
    pub fn next_listing(&mut self) -> SyntheticListing {
        let i = self.index;
        self.index += 1;
        let object = self.rng.pick(OBJECTS);
        let role = self.rng.pick(ROLES);
        let name = format!(
            "{} {} {}{}",
            self.rng.pick(BRANDS),
            title(object),
            title(role.0),
            self.rng.pick(SUFFIXES)
        );
        let description = self.description(object, role);
        let r = &mut self.rng;
        let agent_type = if r.percent() < 70 {
            role.2
        } else {
            r.pick(domain::AgentType::ALL).as_str()
        };
        let mut capabilities: Vec<String> = (0..2 + r.below(5))
            .map(|k| {
                let resource = if k == 0 {
                    object
                } else {
                    r.pick(&OBJECTS[..100])
                };
                format!("{}:{}", resource.replace('-', "_"), r.pick(ACTIONS))
            })
            .collect();
        capabilities.sort();
        capabilities.dedup();
        let mut tags: Vec<String> = (0..2 + r.below(4))
            .map(|k| {
                if k == 0 {
                    r.pick(INDUSTRIES)
                } else {
                    r.pick(TAGS)
                }
                .to_owned()
            })
            .collect();
        tags.sort();
        tags.dedup();
        let (tenant_id, publisher) = self.publishers[r.below(self.publishers.len())].clone();
        let jitter = Duration::milliseconds((r.next() % 1000) as i64);
        let created_at = self.start + self.step * (i as f64) + jitter;
        let updated_at = created_at + Duration::seconds((r.next() % (30 * 86_400)) as i64);
        let secs = created_at.unix_timestamp().max(0) as u64;
        let id = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            secs,
            created_at.nanosecond(),
        ));
        let roll = r.percent();
        SyntheticListing {
            id,
            tenant_id,
            publisher,
            name,
            description,
            agent_type,
            version: format!("{}.{}.{}", r.below(5), r.below(21), r.below(10)),
            capabilities,
            tags,
            deployment_env: match r.percent() {
                0..70 => "production",
                70..90 => "staging",
                _ => "development",
            },
            status: match roll {
                0..2 => "suspended",
                2..3 => "decommissioned",
                _ => "active",
            },
            listed: r.percent() >= 3,
            did: format!("did:web:{}:agents:{id}", self.did_host),
            created_at,
            updated_at,
        }
    }
}

impl Rng {
    fn next_bytes(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_varied_valid_and_reproducible() {
        let now = OffsetDateTime::now_utc();
        let mut a = Generator::new(7, 1000, "localhost%3A8080", now);
        let mut b = Generator::new(7, 1000, "localhost%3A8080", now);
        let la: Vec<_> = (0..1000).map(|_| a.next_listing()).collect();
        let lb: Vec<_> = (0..1000).map(|_| b.next_listing()).collect();
        assert_eq!(la[999].name, lb[999].name);
        assert_eq!(la[999].description, lb[999].description);
        let names: std::collections::HashSet<_> = la.iter().map(|l| &l.name).collect();
        assert!(names.len() > 990, "{}", names.len());
        for l in &la {
            assert!(l.agent_type.parse::<domain::AgentType>().is_ok());
            // What identity would register.
            assert!(
                l.capabilities
                    .iter()
                    .all(|c| { domain::Capability::parse(c).is_ok_and(|p| p == c.as_str()) })
            );
            assert!(
                l.tags
                    .iter()
                    .all(|t| { domain::Tag::parse(t).is_ok_and(|p| p == t.as_str()) })
            );
            assert!(!l.tags.is_empty() && l.created_at <= now);
        }
        assert!(la.windows(2).all(|w| w[0].created_at <= w[1].created_at));
        assert_eq!(plural("policy"), "policies");
        assert_eq!(plural("tax"), "taxes");
        assert_eq!(title("lab-result"), "Lab Result");
    }
}
