//! Test harness: runs the REAL Python server as a subprocess on an ephemeral port.
//!
//! The command is `$TASKSTATE_SERVER_CMD` (split on whitespace) if set, else
//! `<repo>/.venv/bin/python -m taskstate_server`. A server that cannot be started fails the
//! test: nothing is ever skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskstate_client::{Client, ClientOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const TOKEN_ALICE: &str = "tok-alice";
pub const TOKEN_BOB: &str = "tok-bob";

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "taskstate-rust-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn server_command() -> Vec<String> {
    match std::env::var("TASKSTATE_SERVER_CMD") {
        Ok(cmd) if !cmd.trim().is_empty() => cmd.split_whitespace().map(str::to_owned).collect(),
        _ => vec![
            repo_root()
                .join(".venv/bin/python")
                .to_string_lossy()
                .into_owned(),
            "-m".to_owned(),
            "taskstate_server".to_owned(),
        ],
    }
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: String,
    pub store: String,
    /// With tokens: alice -> TOKEN_ALICE, bob -> TOKEN_BOB, anonymous off.
    pub auth: bool,
    pub extra: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:0".to_owned(),
            store: "memory://".to_owned(),
            auth: false,
            extra: Vec::new(),
        }
    }
}

/// A running server; killed on drop.
pub struct Server {
    pub addr: String,
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    _dir: TempDir,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(config: ServerConfig) -> Server {
        let dir = TempDir::new("server");
        let cmd = server_command();
        let mut command = Command::new(&cmd[0]);
        command
            .args(&cmd[1..])
            .args(["--listen", &config.listen, "--store", &config.store]);
        if config.auth {
            let tokens = dir.path().join("tokens.json");
            std::fs::write(
                &tokens,
                format!(r#"{{"alice": ["{TOKEN_ALICE}"], "bob": ["{TOKEN_BOB}"]}}"#),
            )
            .unwrap();
            command.arg("--auth-tokens").arg(&tokens);
        }
        command.args(&config.extra);
        command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the taskstate server {cmd:?}: {e} (run `make setup` in the repository, \
                 or set TASKSTATE_SERVER_CMD)"
            )
        });
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let hostport = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    return Some(hostport);
                }
            }
            None
        })
        .await;
        let addr = match found {
            Ok(Some(addr)) => addr,
            other => {
                let _ = child.start_kill();
                panic!(
                    "the taskstate server {cmd:?} did not report `listening on` ({}):\n{}",
                    if other.is_err() {
                        "timeout"
                    } else {
                        "it exited"
                    },
                    log.lock().unwrap()
                );
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut s = sink.lock().unwrap();
                if s.len() < 1 << 20 {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Server {
            addr,
            child: Some(child),
            stderr: log,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit_once(':').unwrap().1.parse().unwrap()
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stops the server with a signal and waits for it to exit.
    pub async fn stop(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().expect("server pid").to_string();
            let status = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status();
            assert!(
                status.map(|s| s.success()).unwrap_or(false),
                "kill -{signal} {pid} failed"
            );
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
            let _ = child.start_kill();
        }
    }

    pub async fn client(&self) -> Client {
        self.client_with(ClientOptions::default()).await
    }

    pub async fn client_with(&self, options: ClientOptions) -> Client {
        Client::connect(&self.addr, options).await.expect("connect")
    }

    pub async fn alice(&self) -> Client {
        self.client_with(ClientOptions::with_token(TOKEN_ALICE))
            .await
    }

    pub async fn bob(&self) -> Client {
        self.client_with(ClientOptions::with_token(TOKEN_BOB)).await
    }
}

/// A test PKI made with the `openssl` command: a CA, a server certificate for `localhost` and
/// `127.0.0.1`, and a client certificate (for mutual TLS), all signed by the CA.
pub struct TestPki {
    pub dir: TempDir,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = TempDir::new("pki");
        let pki = TestPki { dir };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=taskstate test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        pki.leaf(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.leaf("client", "test-client", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn leaf(&self, name: &str, cn: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(
            self.path(&ext),
            format!("basicConstraints=critical,CA:FALSE\n{extensions}"),
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subj = format!("/CN={cn}");
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &subj,
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("the `openssl` command is needed to make test certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Server flags serving TLS with the server certificate.
    pub fn server_flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.arg("server.pem"),
            "--tls-key".into(),
            self.arg("server.key"),
        ]
    }
}

/// A TCP proxy in front of a server, to drop a client's connections on demand.
pub mod proxy {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::AbortHandle;

    struct State {
        /// The relays of the open connections (aborting one closes both sockets).
        relays: Mutex<Vec<AbortHandle>>,
        /// While set, new connections are closed at once.
        refusing: AtomicBool,
        accepted: AtomicUsize,
    }

    /// Forwards `addr` (a `host:port`) until dropped.
    pub struct Proxy {
        pub addr: String,
        state: Arc<State>,
        acceptor: AbortHandle,
    }

    impl Proxy {
        pub async fn start(target: &str) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
            let addr = listener.local_addr().unwrap().to_string();
            let state = Arc::new(State {
                relays: Mutex::new(Vec::new()),
                refusing: AtomicBool::new(false),
                accepted: AtomicUsize::new(0),
            });
            let (shared, target) = (state.clone(), target.to_owned());
            let acceptor = tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if shared.refusing.load(Ordering::SeqCst) {
                        continue; // dropped: closed
                    }
                    shared.accepted.fetch_add(1, Ordering::SeqCst);
                    let target = target.clone();
                    let relay = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    shared.relays.lock().unwrap().push(relay.abort_handle());
                }
            })
            .abort_handle();
            Proxy {
                addr,
                state,
                acceptor,
            }
        }

        /// Closes every open connection (new ones are still accepted unless refusing).
        pub fn cut(&self) {
            for relay in self.state.relays.lock().unwrap().drain(..) {
                relay.abort();
            }
        }

        /// Closes every open connection and every new one until `refuse(false)`.
        pub fn refuse(&self, on: bool) {
            self.state.refusing.store(on, Ordering::SeqCst);
            if on {
                self.cut();
            }
        }

        /// Connections accepted so far.
        pub fn accepted(&self) -> usize {
            self.state.accepted.load(Ordering::SeqCst)
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.acceptor.abort();
            self.cut();
        }
    }
}
