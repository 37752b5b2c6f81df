//! TLS to PostgreSQL and Redis: a PostgreSQL that refuses plain connections and a Redis
//! that speaks only TLS, both with a certificate of a CA made for the test. Connections
//! verify the chain and the name (`sslmode=verify-full`, `rediss://`) and are refused
//! with another CA.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform::config::{Env, ServiceKind, read_common};
use platform::db::{Db, connect_once};
use platform::redis::{Redis, redis};

/// Runs `cmd`, panicking with its output when it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    testkit::free_port().unwrap()
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pg_bin(tool: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(tool))
}

/// `cmd` as the `postgres` user when running as root (initdb and postgres refuse root).
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A test CA, a server certificate it signed (localhost, 127.0.0.1), and another CA.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let ca = |name: &str| {
            run(Command::new("openssl")
                .current_dir(dir)
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
                .args(["-keyout", &format!("{name}.key"), "-out"])
                .arg(format!("{name}.pem"))
                .args(["-subj", &format!("/CN=AgentIdP test {name}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
        };
        ca("ca");
        ca("wrong-ca");
        run(Command::new("openssl")
            .current_dir(dir)
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", "/CN=localhost"]));
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(Command::new("openssl")
            .current_dir(dir)
            .args(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem"])
            .args(["-CAkey", "ca.key", "-CAcreateserial", "-days", "2"])
            .args(["-out", "server.pem", "-extfile", "server.ext"]));
        Self {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

/// A private PostgreSQL accepting only TLS connections, and a TLS-only Redis.
struct Servers {
    dir: PathBuf,
    pki: Pki,
    pg_port: u16,
    redis_port: u16,
    redis: Child,
}

impl Servers {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("agentidp-tls-{}", uuid::Uuid::new_v4()));
        let data = dir.join("pg");
        std::fs::create_dir_all(&data).unwrap();
        let pki = Pki::new(&dir);
        run(Command::new("chmod").args(["-R", "a+rX"]).arg(&dir));
        let root = as_postgres(Path::new("true")).get_program() == "runuser";
        if root {
            run(Command::new("chown").args(["-R", "postgres:"]).arg(&data));
        }
        run(as_postgres(&pg_bin("initdb"))
            .args([
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
            ])
            .stdout(Stdio::null()));
        // The server's key must belong to the server's user and be private to it.
        for f in ["server.pem", "server.key"] {
            std::fs::copy(dir.join(f), data.join(f)).unwrap();
            if root {
                run(Command::new("chown").arg("postgres:").arg(data.join(f)));
            }
        }
        run(Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key")));
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let pg_port = free_port();
        let options = format!(
            "-p {pg_port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on \
             -c ssl_cert_file=server.pem -c ssl_key_file=server.key",
            data.display()
        );
        run(as_postgres(&pg_bin("pg_ctl"))
            .args(["-D", &data.to_string_lossy(), "-w", "-l"])
            .arg(data.join("server.log"))
            .args(["-o", &options, "start"])
            .stdout(Stdio::null()));

        let redis_port = free_port();
        let redis = Command::new(
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into()),
        )
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &redis_port.to_string()])
        .args(["--tls-cert-file", &pki.path("server.pem")])
        .args(["--tls-key-file", &pki.path("server.key")])
        .args(["--tls-ca-cert-file", &pki.path("ca.pem")])
        .args(["--tls-auth-clients", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        wait_for_port(redis_port);
        Self {
            dir,
            pki,
            pg_port,
            redis_port,
            redis,
        }
    }

    fn env(&self, pairs: &[(&str, &str)]) -> Env {
        let mut env = Env::from_pairs([
            (
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port),
            ),
            (
                "REDIS_URL",
                format!("rediss://127.0.0.1:{}", self.redis_port),
            ),
            ("DB_POOL_CONNECTION_TIMEOUT_MS", "3000".into()),
        ]);
        for (k, v) in pairs {
            env.set(*k, *v);
        }
        env
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.redis.kill();
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args([
                "-D",
                &self.dir.join("pg").to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn pg_uses_tls(env: &Env) -> anyhow::Result<bool> {
    let cfg = read_common(env, ServiceKind::Billing)?;
    let client = connect_once(&cfg.database, "public", "tls-test").await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

async fn redis_ping(env: &Env) -> Result<String, String> {
    let cfg = read_common(env, ServiceKind::Billing).map_err(|e| e.to_string())?;
    let r = Redis::new(&cfg.redis).map_err(|e| e.to_string())?;
    r.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn postgres_and_redis_over_tls_verify_against_the_ca_and_refuse_another() {
    let s = Servers::start();
    let ca = s.pki.path("ca.pem");
    let wrong = s.pki.path("wrong-ca.pem");
    let url = |mode: &str, host: &str| {
        format!(
            "postgres://postgres@{host}:{}/postgres?sslmode={mode}",
            s.pg_port
        )
    };

    // verify-full with the CA in the URL, and with DATABASE_CA_FILE (by name and address).
    let in_url = format!("{}&sslrootcert={ca}", url("verify-full", "127.0.0.1"));
    assert!(
        pg_uses_tls(&s.env(&[("DATABASE_URL", &in_url)]))
            .await
            .unwrap()
    );
    for host in ["localhost", "127.0.0.1"] {
        let env = s.env(&[
            ("DATABASE_URL", &url("verify-full", host)),
            ("DATABASE_CA_FILE", &ca),
        ]);
        assert!(pg_uses_tls(&env).await.unwrap(), "{host}");
        // The pool connects the same way.
        let cfg = read_common(&env, ServiceKind::Billing).unwrap();
        let db = Db::new(&cfg.database, "public", "tls-pool").unwrap();
        let one: i32 = db
            .get()
            .await
            .unwrap()
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(one, 1);
    }

    // Another CA: refused before anything is sent; so is the Mozilla bundle (no CA given).
    let err = pg_uses_tls(&s.env(&[
        ("DATABASE_URL", &url("verify-full", "127.0.0.1")),
        ("DATABASE_CA_FILE", &wrong),
    ]))
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    let err = pg_uses_tls(&s.env(&[("DATABASE_URL", &url("require", "127.0.0.1"))]))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    // Without sslmode the connection is plain, which this server refuses.
    let plain = format!("postgres://postgres@127.0.0.1:{}/postgres", s.pg_port);
    let err = pg_uses_tls(&s.env(&[("DATABASE_URL", &plain)]))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("pg_hba.conf"), "{err:#}");

    // Redis: rediss:// with the test CA answers; another CA or the system's roots do not.
    assert_eq!(
        redis_ping(&s.env(&[("REDIS_CA_FILE", &ca)])).await.unwrap(),
        "PONG"
    );
    assert!(
        redis_ping(&s.env(&[("REDIS_CA_FILE", &wrong)]))
            .await
            .is_err()
    );
    assert!(redis_ping(&s.env(&[])).await.is_err());
}
