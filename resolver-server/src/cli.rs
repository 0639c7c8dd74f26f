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
        /// Let rule webhooks and SMS gateways reach loopback and private-network addresses
        /// (refused by default: a rule must not become a way into the server's network).
        #[arg(long, env = "SSRM_ALLOW_PRIVATE_TARGETS")]
        allow_private_targets: bool,
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
    /// Manage behaviour rules (what visitors do triggers actions).
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Manage the account's SMS gateway (SerwerSMS API v2 compatible) used by rules.
    #[command(subcommand)]
    Gateway(GatewayCommand),
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add a rule given as JSON on standard input; prints only its id.
    Add { account: String },
    /// List rules: one JSON object a line with id, name, enabled and fire counts.
    List { account: String },
    /// Print a rule's JSON (webhook secrets hidden) and its last firings.
    Show { account: String, id: u64 },
    /// Replace a rule's definition with the JSON on standard input.
    Edit { account: String, id: u64 },
    /// Switch a rule on.
    Enable { account: String, id: u64 },
    /// Switch a rule off.
    Disable { account: String, id: u64 },
    /// Delete a rule (its log and queued deliveries stay).
    Delete { account: String, id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Set the SMS gateway: its API root URL and a token, or a username with the password on
    /// standard input.
    Set {
        account: String,
        #[arg(long)]
        url: String,
        #[arg(long, conflicts_with_all = ["username", "password_stdin"], required_unless_present = "username")]
        token: Option<String>,
        #[arg(long, requires = "password_stdin")]
        username: Option<String>,
        /// Read the password from standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// Default sender name (1 to 11 characters).
        #[arg(long)]
        sender: Option<String>,
    },
    /// Show the gateway's URL, how it authenticates and its sender (never the secret).
    Show { account: String },
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

fn open_store(dir: &Path) -> anyhow::Result<Store> {
    Store::open(dir).with_context(|| {
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
    let store = open_store(&cli.data_dir)?;
    match cli.command {
        Command::Serve {
            listen,
            tracker_dir,
            behind_proxy,
            demo,
            allow_private_targets,
        } => {
            if demo {
                print_demo(&ensure_demo(&store, &cli.data_dir)?, &listen);
            }
            let client_address = if behind_proxy {
                ClientAddress::Forwarded
            } else {
                ClientAddress::Peer
            };
            let targets = if allow_private_targets {
                crate::delivery::TargetPolicy::AllowPrivate
            } else {
                crate::delivery::TargetPolicy::PublicOnly
            };
            serve(store, &listen, tracker_dir, client_address, targets)
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
                        domain::HistoryEntry::Rule(delivery) => println!(
                            "{}\trule\t{}\t{}\t{}",
                            format_time(delivery.created_at),
                            delivery
                                .contact
                                .suid
                                .map(|suid| suid.to_string())
                                .unwrap_or_else(|| "-".into()),
                            delivery.rule_name,
                            delivery.summary()
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
        Command::Rule(command) => run_rule(&store, command),
        Command::Gateway(command) => run_gateway(&store, command),
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

fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(text)
}

/// A rule error as the one line the CLI prints: the field's path and what is wrong.
fn rule_failure(error: domain::RuleError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

fn warn(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

fn run_rule(store: &Store, command: RuleCommand) -> anyhow::Result<()> {
    let switch = match &command {
        RuleCommand::Enable { .. } => domain::RuleState::On,
        _ => domain::RuleState::Off,
    };
    match command {
        RuleCommand::Add { account: name } => {
            let account = account(store, &name)?;
            let spec = domain::parse_rule(&read_stdin("the rule")?).map_err(rule_failure)?;
            let saved = domain::add_rule(store, account.id, spec).map_err(rule_failure)?;
            store.flush()?;
            warn(&saved.warnings);
            println!("{}", saved.rule.id);
        }
        RuleCommand::Edit { account: name, id } => {
            let account = account(store, &name)?;
            let id = domain::RuleId(id);
            let stored = domain::view_rule(store, account.id, id).map_err(rule_failure)?;
            let mut spec = domain::parse_rule(&read_stdin("the rule")?).map_err(rule_failure)?;
            domain::keep_hidden_secrets(&mut spec, &stored.spec);
            let saved = domain::update_rule(store, account.id, id, spec).map_err(rule_failure)?;
            store.flush()?;
            warn(&saved.warnings);
        }
        RuleCommand::List { account: name } => {
            for (rule, stats) in domain::list_rules(store, account(store, &name)?.id)? {
                let line = serde_json::json!({
                    "id": rule.id.0,
                    "name": rule.spec.name,
                    "enabled": rule.spec.enabled,
                    "fired": stats.fired,
                    "delivered": stats.delivered,
                    "failed": stats.failed,
                    "last_fired": stats.last_fired_at.map(format_time),
                });
                println!("{line}");
            }
        }
        RuleCommand::Show { account: name, id } => {
            let account = account(store, &name)?;
            let rule =
                domain::view_rule(store, account.id, domain::RuleId(id)).map_err(rule_failure)?;
            let mut shown = serde_json::to_value(domain::shown_spec(&rule.spec))?;
            shown["id"] = rule.id.0.into();
            println!("{}", serde_json::to_string_pretty(&shown)?);
            for (firing, deliveries) in domain::rule_log(store, account.id, rule.id, 100)? {
                for delivery in deliveries {
                    println!(
                        "{}\tcontact {}\tdelivery {}\t{}\t{}",
                        format_time(firing.at),
                        firing.contact,
                        delivery.id,
                        delivery.state.as_str(),
                        delivery.summary()
                    );
                }
            }
        }
        RuleCommand::Enable { account: name, id } | RuleCommand::Disable { account: name, id } => {
            let account = account(store, &name)?;
            domain::set_rule_enabled(store, account.id, domain::RuleId(id), switch)
                .map_err(rule_failure)?;
            store.flush()?;
        }
        RuleCommand::Delete { account: name, id } => {
            let account = account(store, &name)?;
            domain::delete_rule(store, account.id, domain::RuleId(id)).map_err(rule_failure)?;
            store.flush()?;
        }
    }
    Ok(())
}

fn run_gateway(store: &Store, command: GatewayCommand) -> anyhow::Result<()> {
    match command {
        GatewayCommand::Set {
            account: name,
            url,
            token,
            username,
            password_stdin: _,
            sender,
        } => {
            let account = account(store, &name)?;
            let credentials = match (token, username) {
                (Some(token), _) => domain::GatewayCredentials::Token(token),
                (None, Some(username)) => {
                    let password = read_stdin("the password")?;
                    domain::GatewayCredentials::Password {
                        username,
                        password: password.trim_end_matches(['\r', '\n']).to_owned(),
                    }
                }
                (None, None) => anyhow::bail!("give --token, or --username with --password-stdin"),
            };
            let (_, warning) =
                domain::set_sms_gateway(store, account.id, &url, credentials, sender.as_deref())
                    .map_err(rule_failure)?;
            store.flush()?;
            warn(warning.as_slice());
        }
        GatewayCommand::Show { account: name } => {
            match domain::sms_gateway(store, account(store, &name)?.id)? {
                Some(gateway) => println!(
                    "{}\t{}\t{}",
                    gateway.url,
                    gateway.auth_description(),
                    gateway.sender.as_deref().unwrap_or("-")
                ),
                None => anyhow::bail!("no SMS gateway set for {name:?}"),
            }
        }
    }
    Ok(())
}

fn serve(
    store: Store,
    listen: &str,
    tracker_dir: PathBuf,
    client_address: ClientAddress,
    targets: crate::delivery::TargetPolicy,
) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    actix_web::rt::System::new().block_on(async move {
        http::run(
            listener,
            AppState {
                tracker_dir,
                client_address,
                delivery: crate::delivery::DeliveryOptions { targets },
                ..AppState::new(store)
            },
        )?
        .await
    })?;
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
