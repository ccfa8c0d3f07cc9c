//! Command-line interface: `serve`, `migrate`, `user add`, `check`, `backup`, `restore`,
//! `healthcheck`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};

#[derive(Parser, Debug)]
#[command(
    name = "dashoffice",
    version,
    about = "Self-hosted WhatsApp commerce appliance"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Data directory (SQLite, redb, key, logs, media). Default ./data
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Config file (default ./dashoffice.toml when present)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the appliance.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:3009)
        #[arg(long)]
        listen: Option<String>,
        /// Install the demo tenant, bot and catalogue and print the admin login.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Manage users from the shell.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Check configuration, data directory and migration state; non-zero exit on a problem.
    Check {
        #[command(flatten)]
        common: Common,
    },
    /// Copy the data directory to DEST (consistent while the server runs).
    Backup {
        #[command(flatten)]
        common: Common,
        /// New or empty directory for the backup.
        dest: PathBuf,
    },
    /// Verify a backup and make it the data directory (the server must be stopped).
    Restore {
        #[command(flatten)]
        common: Common,
        /// A directory made by `dashoffice backup`.
        src: PathBuf,
        /// Only verify checksums and integrity; change nothing.
        #[arg(long)]
        verify_only: bool,
    },
    /// Exit 0 when the server answers GET /health with 200, 1 otherwise (for containers).
    Healthcheck {
        #[command(flatten)]
        common: Common,
        /// Health URL (default: http://<listen>/health from the configuration).
        #[arg(long)]
        url: Option<String>,
    },
    /// Measure throughput, latency, memory and cold start against a floor; print a table.
    Bench {
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A small run (well under a minute) for smoke tests.
        #[arg(long)]
        quick: bool,
        /// Customers talking at once in the inbound -> reply run.
        #[arg(long)]
        concurrency: Option<usize>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Add a user (by default the owner of a new or existing tenant).
    Add {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        email: String,
        /// Tenant name; created when no tenant has that name.
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "owner")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Password; a random one is generated and printed when omitted.
        #[arg(long, env = "DASHOFFICE_NEW_PASSWORD")]
        password: Option<String>,
    },
}

pub fn load_config(common: &Common, listen: Option<String>) -> anyhow::Result<Config> {
    let env = std::env::vars().filter(|(k, _)| k != "DASHOFFICE_NEW_PASSWORD");
    Ok(Config::load(
        common.config.as_deref(),
        env,
        &Overrides {
            data_dir: common.data_dir.clone(),
            listen,
        },
    )?)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            demo,
        } => serve(load_config(&common, listen)?, demo).await,
        Command::Migrate { common } => {
            let config = load_config(&common, None)?;
            let dir = crate::store::DataDir::open(&config.data_dir)?;
            let path = dir.sqlite_path();
            let mut conn = rusqlite::Connection::open(&path)?;
            let applied = crate::store::sqlite::migrate(&mut conn)?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                println!("applied migrations {applied:?}");
            }
            Ok(())
        }
        Command::User {
            action:
                UserAction::Add {
                    common,
                    email,
                    tenant,
                    role,
                    name,
                    password,
                },
        } => {
            user_add(
                load_config(&common, None)?,
                email,
                tenant,
                role,
                name,
                password,
            )
            .await
        }
        Command::Check { common } => {
            let config = load_config(&common, None)?;
            check(&config)
        }
        Command::Backup { common, dest } => backup(&load_config(&common, None)?, &dest),
        Command::Restore {
            common,
            src,
            verify_only,
        } => restore(&load_config(&common, None)?, &src, verify_only),
        Command::Healthcheck { common, url } => {
            healthcheck(&load_config(&common, None)?, url).await
        }
        Command::Bench {
            out,
            quick,
            concurrency,
        } => {
            crate::bench::run(crate::bench::BenchOptions {
                out,
                quick,
                concurrency,
            })
            .await
        }
    }
}

fn backup(config: &Config, dest: &Path) -> anyhow::Result<()> {
    use crate::backup;
    let dir = &config.data_dir;
    let started = std::time::Instant::now();
    let (manifest, how) = if crate::store::DataDir::is_locked(dir) {
        (
            backup::backup_via_server(dir, dest)?,
            "taken by the running server",
        )
    } else {
        (
            backup::create_offline(dir, dest)?,
            "taken directly (no server running)",
        )
    };
    println!(
        "backup of {} written to {} ({how}): schema {}, {} files, {} bytes, {} ms",
        dir.display(),
        dest.display(),
        manifest.schema_version,
        manifest.files.len(),
        manifest.total_bytes(),
        started.elapsed().as_millis()
    );
    Ok(())
}

fn restore(config: &Config, src: &Path, verify_only: bool) -> anyhow::Result<()> {
    use crate::backup;
    if verify_only {
        let m = backup::verify(src)?;
        println!(
            "ok   backup {} (dashoffice {}, schema {}, {} files): checksums match",
            src.display(),
            m.dashoffice_version,
            m.schema_version,
            m.files.len()
        );
        return Ok(());
    }
    let r = backup::restore(src, &config.data_dir)?;
    println!(
        "restored {} into {} (made {} by dashoffice {}, schema {}); checksums and integrity verified",
        src.display(),
        config.data_dir.display(),
        r.manifest.created_at,
        r.manifest.dashoffice_version,
        r.manifest.schema_version
    );
    if let Some(p) = r.previous {
        println!("the files that were there before are in {}", p.display());
    }
    Ok(())
}

/// GETs the health URL; any answer but 200 (or none within 5 s) is a failure.
async fn healthcheck(config: &Config, url: Option<String>) -> anyhow::Result<()> {
    let url = url.unwrap_or_else(|| {
        let mut addr = config.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/health")
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    let res = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    if res.status() != reqwest::StatusCode::OK {
        bail!("{url} answered {}", res.status());
    }
    println!("ok   {url}");
    Ok(())
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(config.data_dir.join("logs"))
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let _guard = crate::telemetry::init_logging(&config.log_level, &config.data_dir.join("logs"));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = crate::build(config).await?;
    let login = if demo {
        Some(crate::demo::install(&app.state).await?)
    } else {
        None
    };
    println!(
        "DashOffice {} serving on http://{addr}/",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(l) = login {
        println!("demo login: {}  password: {}", l.email, l.password);
    }
    tracing::info!(%addr, startup_ms = started.elapsed().as_millis() as u64, "serving");
    app.serve(listener, crate::app::shutdown_signal()).await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn user_add(
    config: Config,
    email: String,
    tenant_name: String,
    role: String,
    name: String,
    password: Option<String>,
) -> anyhow::Result<()> {
    use crate::auth::{password as pw, store as users, Role};
    let role = Role::parse(&role).context("--role must be owner, admin, agent or viewer")?;
    let email = email.trim().to_lowercase();
    if !crate::api::json::is_email(&email) {
        bail!("--email is not a valid e-mail address");
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(pw::generate);
    if let Err(m) = pw::check_policy(&password) {
        bail!("password {m}");
    }
    std::fs::create_dir_all(&config.data_dir)?;
    // No data-dir lock: this may run beside a live server; SQLite serialises the write.
    let db = crate::store::Db::open(
        &config.data_dir.join("dashoffice.sqlite"),
        &config.sqlite_synchronous,
        1,
    )?;
    let hash = pw::hash(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let e2 = email.clone();
    let result = db
        .write(move |c| {
            let t = match users::tenant_by_name(c, &tenant_name)? {
                Some(t) => t,
                None => users::create_tenant(c, &tenant_name)?,
            };
            let u = users::create_user(
                c,
                t.id,
                &users::NewUser {
                    email: &e2,
                    name: &name,
                    role,
                    password_hash: &hash,
                },
            )?;
            crate::audit::record(
                c,
                t.id,
                "cli",
                "create",
                "user",
                Some(&u.id.to_string()),
                serde_json::json!({"after": {"email": u.email, "role": u.role}}),
            )?;
            Ok((t, u))
        })
        .await;
    match result {
        Ok((t, u)) => {
            println!(
                "created {} {} in tenant \"{}\" ({})",
                u.role.as_str(),
                u.email,
                t.name,
                t.id
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Err(e) if users::is_unique_violation(&e) => bail!("{email} already has an account"),
        Err(e) => Err(e.into()),
    }
}

/// Each line says what was checked; the first failure makes the exit code non-zero.
pub fn check(config: &Config) -> anyhow::Result<()> {
    println!(
        "ok   config (listen {}, data dir {})",
        config.listen,
        config.data_dir.display()
    );
    let dir = &config.data_dir;
    check_dir(dir)?;
    println!("ok   data directory {} is writable", dir.display());
    let db_path = dir.join("dashoffice.sqlite");
    if db_path.exists() {
        let conn = rusqlite::Connection::open_with_flags(
            &db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let state = crate::store::sqlite::migration_state(&conn)?;
        if !state.unknown.is_empty() {
            bail!(
                "database has migrations {:?} unknown to this binary (made by a newer version)",
                state.unknown
            );
        }
        let pending = state.pending();
        if pending.is_empty() {
            println!(
                "ok   database schema is current ({} migrations)",
                state.applied.len()
            );
        } else {
            println!("ok   database needs migrations {pending:?}; they apply at start-up");
        }
    } else {
        println!("ok   no database yet; it is created at first start");
    }
    if crate::store::DataDir::is_locked(dir) {
        println!("ok   a dashoffice server is running on this data directory");
    }
    if let Some(b) = &config.backup.dir {
        // A warning, not a failure: the shop keeps running while backups are fixed.
        match check_dir(b) {
            Ok(()) if config.backup.interval_hours > 0 => println!(
                "ok   scheduled backups every {} h into {} (keep {})",
                config.backup.interval_hours,
                b.display(),
                config.backup.keep
            ),
            Ok(()) => println!(
                "warn backup.dir is set but backup.interval_hours is 0: no scheduled backups"
            ),
            Err(e) => println!("warn scheduled backups will fail: {e:#}"),
        }
    }
    Ok(())
}

fn check_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data directory {} cannot be created", dir.display()))?;
    let probe = dir.join(".check-write");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
