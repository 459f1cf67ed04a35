//! A small SMTP server for tests: it speaks real SMTP over TCP (EHLO, MAIL, RCPT, DATA with
//! dot-stuffing, RSET, NOOP, QUIT) and keeps each message it accepted, that is, answered
//! `250` after its data. Faults: break the connection after a message's data but before
//! the answer (the sender's crash mid-send, as the server sees it: nothing delivered),
//! hold the answer back until the sender goes away, or refuse a message for good (550).

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing undone.
    pub data: String,
}

impl Received {
    /// The value of the first header `name` (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The decoded text: quoted-printable soft breaks and escapes undone (what a reader sees).
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The first link in the text that contains `path`.
    pub fn link(&self, path: &str) -> Option<String> {
        self.text()
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(path))
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
    }
}

#[derive(Default)]
struct Faults {
    /// Break this many connections after a message's data, before answering.
    drop_after_data: usize,
    /// Never answer this many messages' data (the connection stays until the sender goes).
    hang_after_data: usize,
    /// Refuse this many messages for good.
    reject: usize,
    /// Keep this many messages, then break the connection before saying so (the sender
    /// cannot know it was delivered).
    accept_then_drop: usize,
}

#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    faults: Arc<Mutex<Faults>>,
    /// Data the sink got but never accepted (dropped or held back).
    pub unanswered: Arc<Mutex<usize>>,
    /// The user names and passwords senders authenticated with.
    pub logins: Arc<Mutex<Vec<(String, String)>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            faults: Arc::default(),
            unanswered: Arc::default(),
            logins: Arc::default(),
        };
        let me = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = me.serve(stream).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP, as to a local relay).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn drop_next(&self, n: usize) {
        self.faults.lock().unwrap().drop_after_data = n;
    }

    pub fn hang_next(&self, n: usize) {
        self.faults.lock().unwrap().hang_after_data = n;
    }

    pub fn accept_then_drop_next(&self, n: usize) {
        self.faults.lock().unwrap().accept_then_drop = n;
    }

    pub fn reject_next(&self, n: usize) {
        self.faults.lock().unwrap().reject = n;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The messages to `to` accepted so far.
    pub fn to(&self, to: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }

    /// Waits (up to ten seconds) until `count` messages to `to` whose subject contains
    /// `subject` arrived; returns them all.
    pub async fn wait_for(&self, to: &str, subject: &str, count: usize) -> Vec<Received> {
        for _ in 0..500 {
            let found: Vec<_> = self
                .to(to)
                .into_iter()
                .filter(|m| m.header("Subject").is_some_and(|s| s.contains(subject)))
                .collect();
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no {count} message(s) to {to} about {subject:?}; got {:?}",
            self.to(to)
                .iter()
                .map(|m| m.header("Subject"))
                .collect::<Vec<_>>()
        );
    }

    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let verb = command
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => {
                    b"250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SIZE 10000000\r\n"
                }
                "AUTH" => {
                    // `AUTH PLAIN base64(\0user\0password)`: kept for the test to check.
                    let encoded = command.split_whitespace().nth(2).unwrap_or_default();
                    let decoded =
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
                            .unwrap_or_default();
                    let parts: Vec<String> = decoded
                        .split(|b| *b == 0)
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                    if let [_, user, password] = parts.as_slice() {
                        self.logins
                            .lock()
                            .unwrap()
                            .push((user.clone(), password.clone()));
                    }
                    b"235 2.7.0 Authentication successful\r\n"
                }
                "HELO" | "NOOP" => b"250 OK\r\n",
                "RSET" => {
                    from.clear();
                    to.clear();
                    b"250 OK\r\n"
                }
                "MAIL" => {
                    from = address(&command);
                    b"250 OK\r\n"
                }
                "RCPT" => {
                    to.push(address(&command));
                    b"250 OK\r\n"
                }
                "DATA" => {
                    write
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" || line == ".\n" {
                            break;
                        }
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    let fault = {
                        let mut faults = self.faults.lock().unwrap();
                        if faults.drop_after_data > 0 {
                            faults.drop_after_data -= 1;
                            Some("drop")
                        } else if faults.hang_after_data > 0 {
                            faults.hang_after_data -= 1;
                            Some("hang")
                        } else if faults.reject > 0 {
                            faults.reject -= 1;
                            Some("reject")
                        } else if faults.accept_then_drop > 0 {
                            faults.accept_then_drop -= 1;
                            Some("accept")
                        } else {
                            None
                        }
                    };
                    match fault {
                        Some("drop") => {
                            *self.unanswered.lock().unwrap() += 1;
                            return Ok(());
                        }
                        Some("hang") => {
                            *self.unanswered.lock().unwrap() += 1;
                            // Until the sender goes away; what it sent is never accepted.
                            let mut rest = String::new();
                            while lines.read_line(&mut rest).await.unwrap_or(0) > 0 {
                                rest.clear();
                            }
                            return Ok(());
                        }
                        Some("accept") => {
                            self.received.lock().unwrap().push(Received {
                                from: from.clone(),
                                to: std::mem::take(&mut to),
                                data,
                            });
                            return Ok(());
                        }
                        Some(_) => b"550 5.1.1 mailbox unavailable\r\n",
                        None => {
                            self.received.lock().unwrap().push(Received {
                                from: from.clone(),
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 2.0.0 OK queued\r\n"
                        }
                    }
                }
                "QUIT" => {
                    write.write_all(b"221 Bye\r\n").await?;
                    return Ok(());
                }
                _ => b"502 Command not implemented\r\n",
            };
            write.write_all(reply).await?;
        }
    }
}

/// The address of `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
