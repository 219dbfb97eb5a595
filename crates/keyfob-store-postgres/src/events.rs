//! Change notices between instances: one connection per store `LISTEN`s on `keyfob_changed`
//! and fans each notice out to the store's waiters in process.
//!
//! A notice's payload is a hash of the session key ([`channel_of`]), so the database's
//! notification queue holds no provider, thread or profile name. The listener pings its
//! connection now and then; when the connection is lost (the server restarted, the network is
//! cut, a ping is not answered), it marks itself down and connects again with backoff; the
//! store's [`Notices`] then wake every waiter and let waiting degrade to polling.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use keyfob_core::SessionKey;
use keyfob_core::store::notices::Notices;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, NoTls, Socket};

use crate::tls::Connector;

/// The notification channel.
pub(crate) const CHANNEL: &str = "keyfob_changed";
/// How often the listening connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a connect, a ping or the `LISTEN` may take.
const PATIENCE: Duration = Duration::from_secs(2);
/// The first and the longest pause between reconnection attempts.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// A session's notice payload: 32 hex digits of the SHA-256 of its key.
pub(crate) fn channel_of(key: &SessionKey) -> String {
    let digest = keyfob_core::crypto::sha256_hex(&format!(
        "{}\0{}\0{}",
        key.provider, key.thread, key.profile
    ));
    digest[..32].to_owned()
}

/// The store's listener; its waiters wait on its [`Notices`].
#[derive(Debug)]
pub(crate) struct Events {
    notices: Arc<Notices>,
    task: JoinHandle<()>,
}

impl Events {
    /// Starts the listener task on the database of `config`, connecting as `connector` says.
    pub(crate) fn start(
        config: tokio_postgres::Config,
        connector: Connector,
        place: String,
    ) -> Events {
        let notices = Arc::new(Notices::default());
        let task = tokio::spawn(listener(config, connector, place, notices.clone()));
        Events { notices, task }
    }

    /// The waiters' side.
    pub(crate) fn notices(&self) -> &Notices {
        &self.notices
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects, listens and forwards notices; reconnects with backoff for as long as the store
/// lives.
async fn listener(
    config: tokio_postgres::Config,
    connector: Connector,
    place: String,
    notices: Arc<Notices>,
) {
    let mut pause = RETRY_MIN;
    loop {
        let why = match &connector {
            Connector::Plain => listen(&config, NoTls, &notices).await,
            Connector::Rustls(tls) => listen(&config, tls.clone(), &notices).await,
        };
        if notices.is_up() {
            pause = RETRY_MIN;
            tracing::warn!(
                store = "postgres",
                server = place.as_str(),
                reason = why.as_str(),
                "lost the change listener; waiters poll until it is back"
            );
        } else {
            tracing::debug!(
                store = "postgres",
                reason = why.as_str(),
                "cannot listen yet"
            );
        }
        notices.set_up(false);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// One connection's life: why it ended.
async fn listen<T>(config: &tokio_postgres::Config, tls: T, notices: &Notices) -> String
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = match tokio::time::timeout(PATIENCE, config.connect(tls)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return e.to_string(),
        Err(_) => return "no answer in time".to_owned(),
    };
    // The connection's messages (notices) arrive through it; it also carries the client's
    // queries, so it is driven in its own task.
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let listen = format!("LISTEN {CHANNEL}");
    let listening = tokio::time::timeout(PATIENCE, client.batch_execute(&listen));
    let why = match listening.await {
        Ok(Ok(())) => {
            notices.set_up(true);
            loop {
                tokio::select! {
                    notice = rx.recv() => match notice {
                        Some(payload) => notices.announce(&payload),
                        None => break "the connection closed".to_owned(),
                    },
                    () = tokio::time::sleep(PING_EVERY) => {
                        let ping = tokio::time::timeout(PATIENCE, client.simple_query("SELECT 1"));
                        if !matches!(ping.await, Ok(Ok(_))) {
                            break "a ping was not answered".to_owned();
                        }
                    }
                }
            }
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "LISTEN was not answered in time".to_owned(),
    };
    driver.abort();
    why
}
