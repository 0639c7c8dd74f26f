//! The command line: `serve` and the administration commands. Each command parses its
//! arguments, calls the domain, prints the one thing it promises, and exits non-zero with a
//! one-line reason on error.
#![allow(clippy::print_stdout)]

use crate::demo::{ensure_demo, DemoCredentials};
use crate::domain::{self, Account, CampaignId, SystemStatus};
use crate::http::{self, AppState, ClientAddress};
use crate::store::Store;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// ssrm resolver: recognise a site's visitors; SerwerSMS, TelefUM and Thulium compatible APIs.
///
/// The database (sled) admits one process at a time: run the administration commands while the
/// server is stopped, or they fail with "database is in use".
#[derive(Debug, Parser)]
#[command(name = "resolver-server", version)]
pub struct Cli {
    /// Directory of the embedded database (created if missing).
    #[arg(
        long,
        env = "SSRM_DATA_DIR",
        default_value = "ssrm-data",
        global = true
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// An on/off setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the APIs and the tracker over HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SSRM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Directory holding the built tracker (scripts/build-tracker.sh writes www/tracker).
        #[arg(long, env = "SSRM_TRACKER_DIR", default_value = "www/tracker")]
        tracker_dir: PathBuf,
        /// Count tracker and login requests against the address in `Forwarded` / `X-Forwarded-For`
        /// (set this only behind a reverse proxy that writes those headers).
        #[arg(long, env = "SSRM_BEHIND_PROXY")]
        behind_proxy: bool,
        /// Create (first time) a demo account with a user, a token and the domains `localhost`
        /// and `127.0.0.1`, and print their credentials.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        limits: ServeLimits,
        /// Megabytes of sled's page cache, most of the server's memory (sled's own default is
        /// 1024).
        #[arg(long, env = "SSRM_CACHE_MB", default_value_t = crate::store::DEFAULT_CACHE_MB)]
        cache_mb: u64,
        /// Log every request (path, status, time) to stderr.
        #[arg(long, env = "SSRM_ACCESS_LOG", value_enum, default_value_t = Switch::On)]
        access_log: Switch,
        /// How many clients each rate limiter (trackUser, admin login) remembers; past that the
        /// least recently useful are forgotten, so memory stays bounded.
        #[arg(long, env = "SSRM_LIMITER_KEYS", default_value_t = http::limiter::DEFAULT_LIMITER_KEYS)]
        limiter_keys: usize,
    },
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API users (logins for the APIs and admin pages).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage an account's website domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Read contacts' data.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Manage outbound call campaigns (Thulium API).
    #[command(subcommand)]
    Campaign(CampaignCommand),
}

/// Limits of `serve` against abusive clients (README, section Security).
#[derive(Debug, clap::Args)]
pub struct ServeLimits {
    /// Seconds a request body may take to arrive once its headers have; slower is answered 408.
    #[arg(long, env = "SSRM_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// Page views and events accepted per minute from one client address for one site; over it
    /// `/t/pageview` and `/t/event` answer 429 and store nothing.
    #[arg(long, env = "SSRM_INGEST_PER_MINUTE", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    pub ingest_per_minute: u32,
    /// Page views and events accepted per minute for one site from all addresses together
    /// (no cap unless set).
    #[arg(long, env = "SSRM_INGEST_SITE_PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..))]
    pub ingest_site_per_minute: Option<u32>,
}

impl ServeLimits {
    fn apply(&self, state: AppState) -> AppState {
        AppState {
            body_timeout: std::time::Duration::from_secs(self.body_timeout_secs),
            ..state
        }
        .with_ingest_limits(domain::IngestLimits {
            per_client: self.ingest_per_minute,
            per_site: self.ingest_site_per_minute,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Print a contact's history (page views and events of its visitors), newest first:
    /// time, kind, suid, URL or event name, title or properties.
    History { account: String, contact: u64 },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign with the default statuses; prints its five-digit id.
    Add { account: String, name: String },
    /// List campaigns: id, name, number of statuses.
    List { account: String },
    /// Manage a campaign's statuses.
    #[command(subcommand)]
    Status(CampaignStatusCommand),
}

#[derive(Debug, Subcommand)]
pub enum CampaignStatusCommand {
    /// Add a status; prints its id.
    Add {
        account: String,
        campaign: String,
        name: String,
        /// The system status: TO_CALL, IN_PROGRESS, CALL, MY_RECORD, NO_CALL,
        /// ABANDONED_AFTER_N_TRIES, CALL_NO_SOONER_THAN or CALL_PROGRESSIVE.
        #[arg(long)]
        system: String,
        /// Id of the matching dictionary status, if any.
        #[arg(long)]
        dictionary_id: Option<u32>,
    },
    /// List a campaign's statuses: id, system status, name.
    List { account: String, campaign: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its id.
    Add {
        name: String,
        /// Country for phone numbers typed without a prefix (ISO 3166-1 alpha-2).
        #[arg(long, default_value = "PL")]
        country: String,
        /// Language of the trackUser messages site visitors' callbacks get: pl or en.
        #[arg(long, default_value = "pl", value_parser = ["pl", "en"])]
        language: String,
    },
    /// List accounts: id, name, country.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password (at least 8 characters) is read from standard input.
    Add {
        account: String,
        username: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List an account's users.
    List { account: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints only the token (shown once, stored hashed).
    Create {
        account: String,
        /// The user the token acts as (author of events and contacts it creates).
        #[arg(long)]
        user: Option<String>,
        /// Days until the token expires (never, if absent).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revoke a token by its prefix (the 8 characters after `ssrm_`, as `token list` shows).
    Revoke {
        account: String,
        token_prefix: String,
    },
    /// List tokens: prefix, user, created, expires, revoked.
    List { account: String },
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Register a website domain; prints only its site key.
    Add { account: String, domain: String },
    /// List domains: name, site key, whether trackUser needs a hash.
    List { account: String },
    /// Require identity verification for trackUser on a domain; prints the site secret.
    RequireHash { account: String, domain: String },
}

fn open_store(dir: &Path, cache_mb: u64) -> anyhow::Result<Store> {
    Store::open_with_cache(dir, cache_mb).with_context(|| {
        format!(
            "cannot open the database in {} (is a server already using it?)",
            dir.display()
        )
    })
}

fn account(store: &Store, name: &str) -> anyhow::Result<Account> {
    domain::account_named(store, name).with_context(|| format!("no account named {name:?}"))
}

fn format_time(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}

/// Runs one command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let cache_mb = match cli.command {
        Command::Serve { cache_mb, .. } => cache_mb,
        _ => crate::store::DEFAULT_CACHE_MB,
    };
    let store = open_store(&cli.data_dir, cache_mb)?;
    match cli.command {
        Command::Serve {
            listen,
            tracker_dir,
            behind_proxy,
            demo,
            limits,
            cache_mb: _,
            access_log,
            limiter_keys,
        } => {
            if demo {
                print_demo(&ensure_demo(&store, &cli.data_dir)?, &listen);
            }
            let client_address = if behind_proxy {
                ClientAddress::Forwarded
            } else {
                ClientAddress::Peer
            };
            let state = limits.apply(AppState {
                tracker_dir,
                client_address,
                access_log: access_log == Switch::On,
                ..AppState::new(store).with_limiter_keys(limiter_keys)
            });
            serve(state, &listen)
        }
        Command::Contact(ContactCommand::History {
            account: name,
            contact,
        }) => {
            let account = account(&store, &name)?;
            let paging = domain::Paging::new(Some(1), Some(i64::MAX));
            let mut page = 1;
            loop {
                let history = domain::contact_history(
                    &store,
                    account.id,
                    domain::ContactId(contact),
                    domain::Paging { page, ..paging },
                )?;
                for entry in &history.items {
                    match entry {
                        domain::HistoryEntry::PageView(view) => println!(
                            "{}\tpageview\t{}\t{}\t{}",
                            format_time(view.at),
                            view.suid,
                            view.url,
                            view.title
                        ),
                        domain::HistoryEntry::Event(event) => println!(
                            "{}\tevent\t{}\t{}\t{}",
                            format_time(event.at),
                            event.suid,
                            event.name,
                            event.props
                        ),
                    }
                }
                if page >= history.pages {
                    break;
                }
                page += 1;
            }
            Ok(())
        }
        Command::Account(AccountCommand::Add {
            name,
            country,
            language,
        }) => {
            let language = if language == "en" {
                domain::Language::En
            } else {
                domain::Language::Pl
            };
            let account =
                domain::create_account_with_language(&store, &name, Some(&country), language)?;
            store.flush()?;
            println!("{}", account.id);
            Ok(())
        }
        Command::Account(AccountCommand::List) => {
            for account in store.accounts()? {
                println!("{}\t{}\t{}", account.id, account.name, account.country);
            }
            Ok(())
        }
        Command::User(UserCommand::Add {
            account: name,
            username,
            ..
        }) => {
            let account = account(&store, &name)?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            domain::add_user(&store, account.id, &username, password)?;
            store.flush()?;
            Ok(())
        }
        Command::User(UserCommand::List { account: name }) => {
            for user in store.users(account(&store, &name)?.id)? {
                println!("{}\t{}", user.username, format_time(user.created_at));
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            account: name,
            user,
            expires_days,
        }) => {
            let account = account(&store, &name)?;
            let token = domain::create_token(&store, account.id, user.as_deref(), expires_days)?;
            store.flush()?;
            println!("{}", token.secret);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke {
            account: name,
            token_prefix,
        }) => {
            let account = account(&store, &name)?;
            domain::revoke_token(&store, account.id, &token_prefix)?;
            store.flush()?;
            Ok(())
        }
        Command::Token(TokenCommand::List { account: name }) => {
            for token in store.tokens(account(&store, &name)?.id)? {
                let expires = token
                    .expires_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into());
                let revoked = token
                    .revoked_at
                    .map(format_time)
                    .unwrap_or_else(|| "-".into());
                let user = token.username.as_deref().unwrap_or("-");
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    token.prefix,
                    user,
                    format_time(token.created_at),
                    expires,
                    revoked
                );
            }
            Ok(())
        }
        Command::Domain(DomainCommand::Add {
            account: name,
            domain,
        }) => {
            let account = account(&store, &name)?;
            // A store never served since domain owners were indexed gets its index first, so
            // a domain of another account is refused here too.
            domain::shared_domains(&store)?;
            let domain = domain::add_domain(&store, account.id, &domain)?;
            store.flush()?;
            println!("{}", domain.site_key);
            Ok(())
        }
        Command::Domain(DomainCommand::List { account: name }) => {
            for domain in store.domains(account(&store, &name)?.id)? {
                let verification = if domain.require_hash {
                    "hash-required"
                } else {
                    "hash-optional"
                };
                println!("{}\t{}\t{}", domain.name, domain.site_key, verification);
            }
            Ok(())
        }
        Command::Campaign(command) => run_campaign(&store, command),
        Command::Domain(DomainCommand::RequireHash {
            account: name,
            domain,
        }) => {
            let account = account(&store, &name)?;
            let domain = domain::require_hash(&store, account.id, &domain)?;
            store.flush()?;
            println!("{}", domain.secret);
            Ok(())
        }
    }
}

fn campaign_id(text: &str) -> anyhow::Result<CampaignId> {
    CampaignId::parse(text)
        .with_context(|| format!("{text:?} is not a campaign id (five digits, e.g. 00001)"))
}

fn run_campaign(store: &Store, command: CampaignCommand) -> anyhow::Result<()> {
    match command {
        CampaignCommand::Add {
            account: name,
            name: campaign,
        } => {
            let campaign = domain::add_campaign(store, account(store, &name)?.id, &campaign)?;
            store.flush()?;
            println!("{}", campaign.id);
        }
        CampaignCommand::List { account: name } => {
            for campaign in domain::list_campaigns(store, account(store, &name)?.id)? {
                println!(
                    "{}\t{}\t{}",
                    campaign.id,
                    campaign.name,
                    campaign.statuses.len()
                );
            }
        }
        CampaignCommand::Status(CampaignStatusCommand::Add {
            account: name,
            campaign,
            name: status,
            system,
            dictionary_id,
        }) => {
            let system = SystemStatus::parse(&system)
                .with_context(|| format!("{system:?} is not a system status"))?;
            let account = account(store, &name)?;
            let status = domain::add_campaign_status(
                store,
                account.id,
                &campaign_id(&campaign)?,
                &status,
                system,
                dictionary_id,
            )?;
            store.flush()?;
            println!("{}", status.id);
        }
        CampaignCommand::Status(CampaignStatusCommand::List {
            account: name,
            campaign,
        }) => {
            let campaign =
                domain::campaign(store, account(store, &name)?.id, &campaign_id(&campaign)?)?;
            for status in campaign.statuses {
                println!("{}\t{}\t{}", status.id, status.system.as_str(), status.name);
            }
        }
    }
    Ok(())
}

fn serve(state: AppState, listen: &str) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    // Also brings the domain → owner index up to date for stores written before it existed.
    for name in domain::shared_domains(&state.store)? {
        tracing::warn!(
            domain = %name,
            "domain registered by several accounts: its pages are recognised only by their \
             site key (setSite), never by their origin alone"
        );
    }
    tracing::info!(address = %listener.local_addr()?, "serving");
    actix_web::rt::System::new().block_on(async move { http::run(listener, state)?.await })?;
    Ok(())
}

fn print_demo(demo: &DemoCredentials, listen: &str) {
    // Written, not println!: a closed stdout (a supervisor that stopped reading) must not stop
    // the server from starting.
    let banner = format!(
        "ssrm resolver (demo) on http://{listen}/\n  account:  {}\n  login:    {} / {}\n  token:    {}\n  site key: {} (domains 127.0.0.1 and localhost)\n  try:      curl -s -H 'Authorization: Bearer {}' -d group_id=none http://{listen}/contacts/index.json\n",
        demo.account, demo.username, demo.password, demo.token, demo.site_key, demo.token
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
}
