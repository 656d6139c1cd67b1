//! A DogStatsD listener: every datagram line received on a UDP socket.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex, PoisonError};

/// DogStatsD datagrams received on a loopback UDP socket by a background thread.
pub(crate) struct StatsdListener {
    /// `host:port` to send to.
    pub(crate) addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl StatsdListener {
    /// Binds an ephemeral port and starts receiving.
    pub(crate) fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP port for DogStatsD");
        let addr = socket.local_addr().expect("local address").to_string();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                received
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(text.lines().map(str::to_owned));
            }
        });
        Self { addr, lines }
    }

    /// Every line received so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many values of distribution `name` with tag `tag` arrived.
    pub(crate) fn distribution_values(&self, name: &str, tag: &str) -> usize {
        self.lines()
            .iter()
            .filter_map(|line| {
                let mut sections = line.split('|');
                let (metric, values) = sections.next()?.split_once(':')?;
                let kind = sections.next()?;
                let tagged = sections
                    .filter_map(|s| s.strip_prefix('#'))
                    .any(|tags| tags.split(',').any(|t| t == tag));
                (metric == name && kind == "d" && tagged).then(|| values.split(':').count())
            })
            .sum()
    }
}
