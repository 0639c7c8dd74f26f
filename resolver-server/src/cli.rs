//! The command line: `serve`, `restore` and the administration commands. Each administration
//! command parses its arguments, calls the domain, writes the one thing it promises to `out`,
//! and fails with a one-line reason.
//!
//! Every administration command runs through [`run_admin`], whether the CLI opened the store
//! itself or a running server does it on the CLI's behalf (see [`crate::control`]): a new command
//! is one more variant of [`AdminCommand`] (or of a sub-enum) and one more arm in `run_admin`
//! that writes to `out` and reads `stdin`, never the process's own.

use crate::control;
use crate::demo::{ensure_demo, DemoCredentials};
use crate::domain::{self, Account, CampaignId, SystemStatus};
use crate::serve::{self, ServeArgs};
use crate::store::Store;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// ssrm resolver: recognise a site's visitors; SerwerSMS, TelefUM and Thulium compatible APIs.
///
/// Administration commands work whether or not the server runs: with `serve` running on the
/// same data directory they are carried out by the server (through the socket `control.sock`
/// in the data directory), otherwise the command opens the database itself.
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
    /// Keep the data in this PostgreSQL database (`postgres://user:password@host/db`) instead
    /// of sled in the data directory; several servers may share it. Every command accepts it.
    #[arg(long, env = "SSRM_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// At most this many connections to PostgreSQL per process.
    #[arg(long, env = "SSRM_DATABASE_POOL", global = true, default_value_t = crate::store::DEFAULT_POOL)]
    pub database_pool: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the APIs and the tracker over HTTP and HTTPS.
    Serve(ServeArgs),
    /// Restore a backup (made by `backup`) into the data directory, which must be empty or
    /// absent; no server may be running on it.
    Restore {
        /// The backup directory.
        backup: PathBuf,
    },
    /// Copy a stopped sled installation (the data directory) into an empty PostgreSQL
    /// database, every tree with the same keys and ids, and verify the counts.
    MigrateStore {
        /// The PostgreSQL database to fill (`postgres://…`); it must be empty.
        #[arg(long)]
        to: String,
    },
    #[command(flatten)]
    Admin(AdminCommand),
}

/// The administration commands: everything that works both with and without a running server.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
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
    /// Write a consistent copy of the database into a new directory, while the server runs
    /// (writes pause while the files are copied; reads go on). Refuses an existing non-empty
    /// directory.
    Backup {
        /// Where to write the backup (created).
        dir: PathBuf,
    },
    /// Manage behaviour rules (what visitors do triggers actions).
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Manage the account's SMS gateway (SerwerSMS API v2 compatible) used by rules.
    #[command(subcommand)]
    Gateway(GatewayCommand),
    /// Print the account's audit log of erasures, oldest first: time, action, contact id,
    /// who, through which call (no personal data).
    Audit { account: String },
    /// Rebuild the account's contact search index from the stored contacts (a sled store; on
    /// PostgreSQL searches are answered by the database); prints how many were indexed.
    Reindex { account: String },
    /// Delete the account's page views and events older than its retention period now (the
    /// server also does it hourly); prints what was deleted as JSON.
    Purge { account: String },
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

impl AdminCommand {
    /// The command with its relative paths made absolute against `cwd` (the directory the
    /// operator ran it in, which is not the server's).
    fn relative_to(self, cwd: &Path) -> AdminCommand {
        match self {
            AdminCommand::Backup { dir } => AdminCommand::Backup { dir: cwd.join(dir) },
            other => other,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Print a contact's history (page views and events of its visitors), newest first:
    /// time, kind, suid, URL or event name, title or properties.
    History { account: String, contact: u64 },
    /// Delete a contact and erase everything stored about it (visitors and their browsing,
    /// activities, campaign records, rule firings and deliveries); recorded in the audit log.
    Delete { account: String, contact: u64 },
    /// Print everything stored about a contact as one JSON document (the access export; its
    /// fields are described in the README), and nothing else.
    Export { account: String, contact: u64 },
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
    /// Change an account's settings.
    Set {
        name: String,
        /// Keep page views and events this many days (1 to 3650; default 395, about 13
        /// months).
        #[arg(long)]
        retention_days: Option<u32>,
    },
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
    /// Honour Global Privacy Control and Do Not Track on a domain (or stop with `--off`):
    /// requests with `Sec-GPC: 1` or `DNT: 1` store nothing.
    BrowserSignals {
        account: String,
        domain: String,
        #[arg(long)]
        off: bool,
    },
}

fn open_store(dir: &Path, cache_mb: u64) -> anyhow::Result<Store> {
    Store::open_with_cache(dir, cache_mb).with_context(|| {
        format!(
            "cannot open the database in {} (is a server already using it?)",
            dir.display()
        )
    })
}

/// The store the command line names: PostgreSQL with `--database-url`, sled in the data
/// directory otherwise.
fn open_configured(
    database: &(Option<String>, usize),
    data_dir: &Path,
    cache_mb: u64,
) -> anyhow::Result<Store> {
    match database {
        (Some(url), pool) => Store::connect(url, *pool)
            .context("cannot use the PostgreSQL database given by --database-url"),
        (None, _) => open_store(data_dir, cache_mb),
    }
}

fn account(store: &Store, name: &str) -> anyhow::Result<Account> {
    domain::account_named(store, name).with_context(|| format!("no account named {name:?}"))
}

fn format_time(millis: i64) -> String {
    domain::rfc3339(millis).unwrap_or_else(|| millis.to_string())
}

/// Runs one command line to completion. `argv` is the command line `cli` was parsed from: an
/// administration command is sent as it is to a server running on the data directory.
pub fn run(cli: Cli, argv: Vec<String>) -> anyhow::Result<()> {
    let database = (cli.database_url.clone(), cli.database_pool);
    match cli.command {
        Command::Serve(args) => {
            let store = open_configured(&database, &cli.data_dir, args.cache_mb)?;
            if args.demo {
                let listen = args.listen.first().map_or("127.0.0.1:8080", |first| {
                    first.trim_start_matches("http://")
                });
                print_demo(&ensure_demo(&store, &cli.data_dir)?, listen);
            }
            serve::serve(store, &cli.data_dir, args)
        }
        Command::Restore { backup } => {
            anyhow::ensure!(
                database.0.is_none(),
                "restore is for sled backups; restore a PostgreSQL database with pg_restore"
            );
            crate::store::backup::restore(&backup, &cli.data_dir)
        }
        Command::MigrateStore { to } => {
            let source = open_store(&cli.data_dir, crate::store::DEFAULT_CACHE_MB)?;
            let report = crate::store::migrate::to_postgres(&source, &to, database.1)?;
            let stdout = &mut std::io::stdout().lock();
            write!(stdout, "{report}")?;
            stdout.flush()?;
            Ok(())
        }
        Command::Admin(command) => {
            let request = control::Request {
                argv,
                cwd: std::env::current_dir().context("cannot read the working directory")?,
            };
            let stdin = &mut std::io::stdin().lock();
            let stdout = &mut std::io::stdout().lock();
            let stderr = &mut std::io::stderr().lock();
            if database.0.is_none() {
                if let Some(outcome) =
                    control::try_remote(&cli.data_dir, &request, stdin, stdout, stderr)?
                {
                    return outcome;
                }
            }
            let store = open_configured(&database, &cli.data_dir, crate::store::DEFAULT_CACHE_MB)?;
            run_admin(
                &store,
                command.relative_to(&request.cwd),
                stdin,
                stdout,
                stderr,
            )?;
            stdout.flush()?;
            Ok(())
        }
    }
}

/// Runs a command line received on the control socket: parsed with the same clap structs as
/// the CLI, then [`run_admin`].
pub fn run_remote(
    store: &Store,
    request: control::Request,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(&request.argv).map_err(|error| {
        anyhow::anyhow!(
            "the running server does not understand this command line (another version?): {}",
            error.to_string().lines().next().unwrap_or_default()
        )
    })?;
    match cli.command {
        Command::Admin(command) => {
            run_admin(store, command.relative_to(&request.cwd), stdin, out, err)
        }
        Command::Serve(_) | Command::Restore { .. } | Command::MigrateStore { .. } => {
            anyhow::bail!("a server is already running on this data directory")
        }
    }
}

/// Runs one administration command against `store`, reading `stdin` only if the command takes
/// input, writing its output to `out`. The same code serves the CLI and the control socket.
pub fn run_admin(
    store: &Store,
    command: AdminCommand,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        AdminCommand::Backup { dir } => {
            let summary = store.backup_to(&dir)?;
            writeln!(out, "{summary}")?;
            Ok(())
        }
        AdminCommand::Contact(ContactCommand::History {
            account: name,
            contact,
        }) => {
            let account = account(store, &name)?;
            let paging = domain::Paging::new(Some(1), Some(i64::MAX));
            let mut page = 1;
            loop {
                let history = domain::contact_history(
                    store,
                    account.id,
                    domain::ContactId(contact),
                    domain::Paging { page, ..paging },
                )?;
                for entry in &history.items {
                    match entry {
                        domain::HistoryEntry::PageView(view) => writeln!(
                            out,
                            "{}\tpageview\t{}\t{}\t{}",
                            format_time(view.at),
                            view.suid,
                            view.url,
                            view.title
                        )?,
                        domain::HistoryEntry::Event(event) => writeln!(
                            out,
                            "{}\tevent\t{}\t{}\t{}",
                            format_time(event.at),
                            event.suid,
                            event.name,
                            event.props
                        )?,
                        domain::HistoryEntry::Rule(delivery) => writeln!(
                            out,
                            "{}\trule\t{}\t{}\t{}",
                            format_time(delivery.created_at),
                            delivery
                                .contact
                                .suid
                                .map(|suid| suid.to_string())
                                .unwrap_or_else(|| "-".into()),
                            delivery.rule_name,
                            delivery.summary()
                        )?,
                    }
                }
                if page >= history.pages {
                    break;
                }
                page += 1;
            }
            Ok(())
        }
        AdminCommand::Account(AccountCommand::Add {
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
                domain::create_account_with_language(store, &name, Some(&country), language)?;
            store.flush()?;
            writeln!(out, "{}", account.id)?;
            Ok(())
        }
        AdminCommand::Contact(ContactCommand::Delete {
            account: name,
            contact,
        }) => {
            let account = account(store, &name)?;
            let erasing = domain::Erasing::new(domain::Actor::Operator, "command line");
            domain::delete_contacts(store, account.id, &[domain::ContactId(contact)], &erasing)?;
            store.flush()?;
            Ok(())
        }
        AdminCommand::Contact(ContactCommand::Export {
            account: name,
            contact,
        }) => {
            let account = account(store, &name)?;
            let export = domain::export_contact(
                store,
                account.id,
                domain::ContactId(contact),
                domain::now_millis(),
            )?;
            serde_json::to_writer_pretty(&mut *out, &export)?;
            writeln!(out)?;
            Ok(())
        }
        AdminCommand::Reindex { account: name } => {
            let account = account(store, &name)?;
            match domain::reindex_contacts(store, account.id)? {
                Some(indexed) => writeln!(out, "{indexed} contacts indexed")?,
                None => writeln!(out, "this store has no search index to rebuild")?,
            }
            Ok(())
        }
        AdminCommand::Purge { account: name } => {
            let account = account(store, &name)?;
            let purged = domain::purge_expired(store, account.id, domain::now_millis())?;
            store.flush()?;
            writeln!(out, "{}", serde_json::to_string(&purged)?)?;
            Ok(())
        }
        AdminCommand::Account(AccountCommand::Set {
            name,
            retention_days,
        }) => {
            let account = account(store, &name)?;
            let Some(days) = retention_days else {
                anyhow::bail!("nothing to set (try --retention-days N)");
            };
            domain::set_retention_days(store, account.id, days)?;
            store.flush()?;
            Ok(())
        }
        AdminCommand::Audit { account: name } => {
            for entry in domain::audit_log(store, account(store, &name)?.id)? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    format_time(entry.at),
                    entry.action.as_str(),
                    entry.contact,
                    entry.by.describe(),
                    entry.via
                )?;
            }
            Ok(())
        }
        AdminCommand::Account(AccountCommand::List) => {
            for account in domain::list_accounts(store)? {
                writeln!(out, "{}\t{}\t{}", account.id, account.name, account.country)?;
            }
            Ok(())
        }
        AdminCommand::User(UserCommand::Add {
            account: name,
            username,
            ..
        }) => {
            let account = account(store, &name)?;
            let mut password = String::new();
            stdin
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            domain::add_user(store, account.id, &username, password)?;
            store.flush()?;
            Ok(())
        }
        AdminCommand::User(UserCommand::List { account: name }) => {
            for user in domain::list_users(store, account(store, &name)?.id)? {
                writeln!(out, "{}\t{}", user.username, format_time(user.created_at))?;
            }
            Ok(())
        }
        AdminCommand::Token(TokenCommand::Create {
            account: name,
            user,
            expires_days,
        }) => {
            let account = account(store, &name)?;
            let token = domain::create_token(store, account.id, user.as_deref(), expires_days)?;
            store.flush()?;
            writeln!(out, "{}", token.secret)?;
            Ok(())
        }
        AdminCommand::Token(TokenCommand::Revoke {
            account: name,
            token_prefix,
        }) => {
            let account = account(store, &name)?;
            domain::revoke_token(store, account.id, &token_prefix)?;
            store.flush()?;
            Ok(())
        }
        AdminCommand::Token(TokenCommand::List { account: name }) => {
            for token in domain::list_tokens(store, account(store, &name)?.id)? {
                let expires = token
                    .expires_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into());
                let revoked = token
                    .revoked_at
                    .map(format_time)
                    .unwrap_or_else(|| "-".into());
                let user = token.username.as_deref().unwrap_or("-");
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    token.prefix,
                    user,
                    format_time(token.created_at),
                    expires,
                    revoked
                )?;
            }
            Ok(())
        }
        AdminCommand::Domain(DomainCommand::Add {
            account: name,
            domain,
        }) => {
            let account = account(store, &name)?;
            // A store never served since domain owners were indexed gets its index first, so
            // a domain of another account is refused here too.
            domain::shared_domains(store)?;
            let domain = domain::add_domain(store, account.id, &domain)?;
            store.flush()?;
            writeln!(out, "{}", domain.site_key)?;
            Ok(())
        }
        AdminCommand::Domain(DomainCommand::List { account: name }) => {
            for site in domain::list_domains(store, account(store, &name)?.id)? {
                let verification = if site.require_hash {
                    "hash-required"
                } else {
                    "hash-optional"
                };
                writeln!(out, "{}\t{}\t{}", site.name, site.site_key, verification)?;
            }
            Ok(())
        }
        AdminCommand::Campaign(command) => run_campaign(store, command, out),
        AdminCommand::Rule(command) => run_rule(store, command, stdin, out, err),
        AdminCommand::Gateway(command) => run_gateway(store, command, stdin, out, err),
        AdminCommand::Domain(DomainCommand::BrowserSignals {
            account: name,
            domain,
            off,
        }) => {
            let account = account(store, &name)?;
            domain::set_honour_browser_signals(store, account.id, &domain, !off)?;
            store.flush()?;
            Ok(())
        }
        AdminCommand::Domain(DomainCommand::RequireHash {
            account: name,
            domain,
        }) => {
            let account = account(store, &name)?;
            let domain = domain::require_hash(store, account.id, &domain)?;
            store.flush()?;
            writeln!(out, "{}", domain.secret)?;
            Ok(())
        }
    }
}

fn campaign_id(text: &str) -> anyhow::Result<CampaignId> {
    CampaignId::parse(text)
        .with_context(|| format!("{text:?} is not a campaign id (five digits, e.g. 00001)"))
}

fn run_campaign(
    store: &Store,
    command: CampaignCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        CampaignCommand::Add {
            account: name,
            name: campaign,
        } => {
            let campaign = domain::add_campaign(store, account(store, &name)?.id, &campaign)?;
            store.flush()?;
            writeln!(out, "{}", campaign.id)?;
        }
        CampaignCommand::List { account: name } => {
            for campaign in domain::list_campaigns(store, account(store, &name)?.id)? {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    campaign.id,
                    campaign.name,
                    campaign.statuses.len()
                )?;
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
            writeln!(out, "{}", status.id)?;
        }
        CampaignCommand::Status(CampaignStatusCommand::List {
            account: name,
            campaign,
        }) => {
            let campaign =
                domain::campaign(store, account(store, &name)?.id, &campaign_id(&campaign)?)?;
            for status in campaign.statuses {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    status.id,
                    status.system.as_str(),
                    status.name
                )?;
            }
        }
    }
    Ok(())
}

fn read_stdin(stdin: &mut dyn Read, what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(text)
}

/// A rule error as the one line the CLI prints: the field's path and what is wrong.
fn rule_failure(error: domain::RuleError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Warnings go to the diagnostics stream (standard error), never to `out`: `rule add` prints
/// only the id there.
fn warn(err: &mut dyn Write, warnings: &[String]) -> anyhow::Result<()> {
    for warning in warnings {
        writeln!(err, "warning: {warning}")?;
    }
    Ok(())
}

fn run_rule(
    store: &Store,
    command: RuleCommand,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let switch = match &command {
        RuleCommand::Enable { .. } => domain::RuleState::On,
        _ => domain::RuleState::Off,
    };
    match command {
        RuleCommand::Add { account: name } => {
            let account = account(store, &name)?;
            let spec = domain::parse_rule(&read_stdin(stdin, "the rule")?).map_err(rule_failure)?;
            let saved = domain::add_rule(store, account.id, spec).map_err(rule_failure)?;
            store.flush()?;
            warn(err, &saved.warnings)?;
            writeln!(out, "{}", saved.rule.id)?;
        }
        RuleCommand::Edit { account: name, id } => {
            let account = account(store, &name)?;
            let id = domain::RuleId(id);
            let stored = domain::view_rule(store, account.id, id).map_err(rule_failure)?;
            let mut spec =
                domain::parse_rule(&read_stdin(stdin, "the rule")?).map_err(rule_failure)?;
            domain::keep_hidden_secrets(&mut spec, &stored.spec);
            let saved = domain::update_rule(store, account.id, id, spec).map_err(rule_failure)?;
            store.flush()?;
            warn(err, &saved.warnings)?;
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
                writeln!(out, "{line}")?;
            }
        }
        RuleCommand::Show { account: name, id } => {
            let account = account(store, &name)?;
            let rule =
                domain::view_rule(store, account.id, domain::RuleId(id)).map_err(rule_failure)?;
            let mut shown = serde_json::to_value(domain::shown_spec(&rule.spec))?;
            shown["id"] = rule.id.0.into();
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
            for (firing, deliveries) in domain::rule_log(store, account.id, rule.id, 100)? {
                for delivery in deliveries {
                    writeln!(
                        out,
                        "{}\tcontact {}\tdelivery {}\t{}\t{}",
                        format_time(firing.at),
                        firing.contact,
                        delivery.id,
                        delivery.state.as_str(),
                        delivery.summary()
                    )?;
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

fn run_gateway(
    store: &Store,
    command: GatewayCommand,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
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
                    let password = read_stdin(stdin, "the password")?;
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
            warn(err, warning.as_slice())?;
        }
        GatewayCommand::Show { account: name } => {
            match domain::sms_gateway(store, account(store, &name)?.id)? {
                Some(gateway) => writeln!(
                    out,
                    "{}\t{}\t{}",
                    gateway.url,
                    gateway.auth_description(),
                    gateway.sender.as_deref().unwrap_or("-")
                )?,
                None => anyhow::bail!("no SMS gateway set for {name:?}"),
            }
        }
    }
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
