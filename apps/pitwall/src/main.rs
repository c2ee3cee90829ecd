//! `pitwall`: the one binary. `serve`, `worker`, `migrate`, `admin`, `demo`,
//! `backup`, `restore`.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pitwall::config::LogFormat;
use pitwall::{Config, demo, server};
use pitwall_core::domain::{PlatformRole, ShopId};
use pitwall_core::model::PageRequest;
use pitwall_jobs::runtime::WorkerSettings;

#[derive(Parser)]
#[command(
    name = "pitwall",
    version,
    about = "Customer care for auto-repair shops"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and pages, with job workers in the same process.
    Serve {
        /// Run no job workers here (run `pitwall worker` separately).
        #[arg(long)]
        no_workers: bool,
    },
    /// Run job workers only (for split deployments on PostgreSQL).
    Worker,
    /// Apply, roll back or show database migrations.
    Migrate {
        #[arg(value_enum, default_value = "up")]
        action: MigrateAction,
    },
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Create (or reuse) a demo shop with staff, print the logins, then serve.
    Demo {
        /// Set the demo up and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Print the OpenAPI document (what `openapi/pitwall.json` holds).
    Openapi,
    /// Copy the embedded SQLite database to a new file while Pitwall
    /// serves (PostgreSQL: use pg_dump).
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Replace the embedded SQLite database with a backup, after checking
    /// it. Stop Pitwall first.
    Restore {
        /// The backup file to restore.
        #[arg(long)]
        from: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MigrateAction {
    Up,
    Down,
    Status,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform admin (or support user), or reset their password.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Prompted for when absent.
        #[arg(long)]
        password: Option<String>,
        /// Make a support user instead of a platform admin.
        #[arg(long)]
        support: bool,
    },
    /// Create a shop. Without --owner-password the owner gets an invitation e-mail.
    CreateShop {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        plan: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_password: Option<String>,
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// List shops.
    ListShops,
    /// Create a POS API key for a shop (by slug or id); prints it once.
    CreateApiKey {
        #[arg(long)]
        shop: String,
        #[arg(long)]
        name: String,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,apalis=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pitwall: bad configuration: {e}");
            std::process::exit(2);
        }
    };
    init_logging(config.log_format);
    if let Err(e) = run(cli.command, config).await {
        eprintln!("pitwall: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            println!("{}", pitwall_api::spec_json());
            Ok(())
        }
        Command::Migrate { action } => {
            let db = server::open_db(&config, false).await?;
            use pitwall_migrations::{Migrator, MigratorTrait};
            match action {
                MigrateAction::Up => {
                    server::migrate(&db).await?;
                    println!("migrations applied");
                }
                MigrateAction::Down => {
                    Migrator::down(&db, Some(1)).await.context("rolling back")?;
                    println!("rolled back one migration");
                }
                MigrateAction::Status => {
                    for m in Migrator::get_applied_migrations(&db).await? {
                        println!("applied  {}", m.name());
                    }
                    for m in Migrator::get_pending_migrations(&db).await? {
                        println!("pending  {}", m.name());
                    }
                }
            }
            Ok(())
        }
        Command::Serve { no_workers } => serve(config, !no_workers).await,
        Command::Backup { to } => {
            let w = pitwall::backup::backup(&config, &to).await?;
            println!("backup written to {} ({} bytes)", w.path.display(), w.bytes);
            Ok(())
        }
        Command::Restore { from } => {
            pitwall::backup::restore(&config, &from).await?;
            println!(
                "restored {} into {}",
                from.display(),
                pitwall::backup::sqlite_path(&config.database_url)?.display()
            );
            Ok(())
        }
        Command::Worker => {
            let db = server::open_db(&config, true).await?;
            let app = server::build_app(&config, db.clone()).await?;
            let senders = server::senders(&config, &app)?;
            tracing::info!("workers running");
            // In the foreground, so that a failure ends the process with a
            // non-zero status and the supervisor sees it.
            pitwall_jobs::runtime::run(
                db,
                senders,
                app.jobs().clone(),
                WorkerSettings::default(),
                server::shutdown_signal(),
            )
            .await
            .map_err(anyhow::Error::msg)
        }
        Command::Demo { no_serve } => {
            let db = server::open_db(&config, true).await?;
            let app = server::build_app(&config, db.clone()).await?;
            let (_, pos_key) = demo::ensure(&app).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "\nPitwall demo is ready.\n")?;
            writeln!(out, "  Sign in:  {}/login", config.base_url)?;
            writeln!(out, "  Admin:    {}/admin", config.base_url)?;
            writeln!(out, "  API docs: {}/docs\n", config.base_url)?;
            for l in demo::LOGINS {
                writeln!(
                    out,
                    "  {:<28} {:<15} password: {}",
                    l.email,
                    l.role,
                    demo::DEMO_PASSWORD
                )?;
            }
            writeln!(
                out,
                "\n  E-mails land in {0}/outbox/ as .eml files, texts as sms-*.json (set SMTP_URL and\n  TWILIO_* to send for real). Set a status that tells the customer and watch the ticket's\n  messages go queued -> sent; on a customer's conversation (Messages) play their reply\n  and the dashboard's text button turns orange on every screen until someone reads it.\n",
                config.data_dir.display()
            )?;
            writeln!(
                out,
                "  Approvals: open estimate #10237 (Jordan Kim), Customer link -> Send by text (the text,\n  with its /c/ link, lands in the outbox) or Create and copy. Open the link on a phone or a\n  narrow window: the ticket page shows \"Customer viewing\"; approve two of three services,\n  sign, and the approval appears on the ticket and the dashboard at once.\n"
            )?;
            writeln!(
                out,
                "  Demo POS key (new each run, shown once): {pos_key}\n  Push a ticket as the POS would:\n    PITWALL_URL={} PITWALL_POS_KEY={pos_key} ops/pos-push-example.sh\n",
                config.base_url
            )?;
            drop(out);
            if no_serve {
                Ok(())
            } else {
                serve(config, true).await
            }
        }
        Command::Admin { command } => admin(command, config).await,
    }
}

async fn serve(config: Config, workers: bool) -> anyhow::Result<()> {
    let db = server::open_db(&config, true).await?;
    if !pitwall_store::db::migrations_current(&db).await? {
        anyhow::bail!("the database has pending migrations: run `pitwall migrate up` first");
    }
    let app = server::build_app(&config, db.clone()).await?;
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let worker_task = if workers {
        let mut rx = stop_tx.subscribe();
        Some(server::spawn_workers(
            &app,
            db.clone(),
            server::senders(&config, &app)?,
            WorkerSettings::default(),
            async move {
                let _ = rx.recv().await;
            },
        ))
    } else {
        None
    };
    let mut rx = stop_tx.subscribe();
    let running = server::serve(app, config.addr, config.metrics_addr, async move {
        let _ = rx.recv().await;
    })
    .await?;
    tracing::info!(addr = %running.addr, metrics_addr = ?running.metrics_addr, workers, "pitwall serving");
    server::shutdown_signal().await;
    let _ = stop_tx.send(());
    running.task.await.context("server task")??;
    if let Some(t) = worker_task {
        let _ = t.await;
    }
    Ok(())
}

async fn admin(command: AdminCommand, config: Config) -> anyhow::Result<()> {
    let db = server::open_db(&config, true).await?;
    let app = server::build_app(&config, db.clone()).await?;
    match command {
        AdminCommand::CreateAdmin {
            email,
            password,
            support,
        } => {
            let password = match password {
                Some(p) => p,
                None => rpassword::prompt_password("Password for the new admin: ")
                    .context("reading the password")?,
            };
            let role = if support {
                PlatformRole::Support
            } else {
                PlatformRole::PlatformAdmin
            };
            let id =
                pitwall_core::shops::create_platform_user(&app, &email, &password, role).await?;
            println!("{role} {id} ready; sign in at {}/login", config.base_url);
        }
        AdminCommand::CreateShop {
            name,
            slug,
            plan,
            owner_email,
            owner_password,
            time_zone,
        } => {
            let created = pitwall_core::shops::create_shop(
                &app,
                pitwall_core::shops::Creator::Cli,
                pitwall_core::shops::NewShopInput {
                    name: &name,
                    slug: &slug,
                    plan: &plan,
                    owner_email: &owner_email,
                    owner_password: owner_password.as_deref(),
                    time_zone: time_zone.as_deref(),
                },
            )
            .await?;
            println!("shop {} ({}) created", created.shop.id, created.shop.slug);
            if created.owner_invited {
                // The invitation e-mail is queued; deliver it now so that the
                // command's promise holds even with no server running.
                let senders = server::senders(&config, &app)?;
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let workers = server::spawn_workers(
                    &app,
                    db.clone(),
                    senders,
                    WorkerSettings::default(),
                    async move {
                        let _ = rx.await;
                    },
                );
                wait_for_outbox(&app).await;
                let _ = tx.send(());
                let _ = workers.await;
                println!("the owner was sent an invitation e-mail");
            }
        }
        AdminCommand::ListShops => {
            let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
            println!(
                "{:<36}  {:<24} {:<10} {:<10} name",
                "id", "slug", "plan", "lifecycle"
            );
            loop {
                let p = pitwall_core::operator::list_shops(&app, page).await?;
                for s in &p.items {
                    println!(
                        "{:<36}  {:<24} {:<10} {:<10} {}",
                        s.id, s.slug, s.plan_code, s.lifecycle, s.name
                    );
                }
                match p.next_cursor {
                    Some(c) => {
                        page = PageRequest::parse(Some(&c), Some(PageRequest::MAX_LIMIT))
                            .map_err(|(_, m)| anyhow::anyhow!(m))?
                    }
                    None => break,
                }
            }
        }
        AdminCommand::CreateApiKey { shop, name } => {
            let found = pitwall_core::operator::find_shop(&app, &shop).await?;
            let found = found.with_context(|| format!("no shop {shop:?}"))?;
            let key = pitwall_core::api_keys::create_for_shop(
                &app,
                ShopId::from_uuid(found.id),
                &name,
                None,
            )
            .await?;
            println!("{}", key.secret);
            eprintln!(
                "API key {} for {}: shown once, store it now.",
                key.key.id, found.slug
            );
        }
    }
    Ok(())
}

/// Waits (up to 30 s) until the e-mail jobs written so far have been sent.
async fn wait_for_outbox(app: &pitwall_core::App) {
    for _ in 0..300 {
        let pending = pitwall_core::operator::emails_pending(app)
            .await
            .unwrap_or(0);
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    eprintln!(
        "the invitation e-mail is still queued; `pitwall serve` or `pitwall worker` will send it"
    );
}
