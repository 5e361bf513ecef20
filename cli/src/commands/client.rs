//! The client subcommands (Heroku's names: `apps:create`, `config:set`, ...), which talk to a paas
//! server's Platform API; `mod.rs` flattens them into `paas`'s subcommands.

use clap::Subcommand;

use super::{
    access, access_add, access_remove, access_update, apps_transfer, members, members_add, members_remove, members_set,
    teams, teams_create, apps, apps_create, apps_destroy, apps_info, apps_rename, buildpacks,
    buildpacks_clear, buildpacks_set, builds, builds_cache_purge, builds_output, completions, config, config_get,
    addons, addons_attach, addons_create, addons_destroy, addons_detach, addons_info, config_set, config_unset, deploy, domains, domains_add, domains_remove, drains, drains_add, drains_remove, scheduler, scheduler_add, scheduler_remove, features, features_switch, git_remote, login, logout, logs,
    maintenance, metrics, ps, ps_autoscale_disable, ps_autoscale_enable, ps_restart, ps_scale, ps_stop, releases, releases_info, rollback, run, run_detached, users_create, users_grant, whoami,
    nodes, nodes_token,
};

/// A client subcommand.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Log in to a paas server with an API key (stored in ~/.netrc).
    #[command(name = "login")]
    Login(login::LoginCommand),
    /// Log out: forget the stored API key.
    #[command(name = "logout")]
    Logout(logout::LogoutCommand),
    /// Display the current user's email.
    #[command(name = "auth:whoami", visible_alias = "whoami")]
    Whoami(whoami::WhoamiCommand),
    /// List your apps.
    #[command(name = "apps", visible_alias = "apps:list")]
    Apps(apps::AppsCommand),
    /// Create an app (inside a git repo, also adds the `paas` git remote).
    #[command(name = "apps:create", visible_alias = "create")]
    AppsCreate(apps_create::AppsCreateCommand),
    /// Show detailed information about an app.
    #[command(name = "apps:info", visible_alias = "info")]
    AppsInfo(apps_info::AppsInfoCommand),
    /// Permanently destroy an app.
    #[command(name = "apps:destroy", visible_alias = "destroy")]
    AppsDestroy(apps_destroy::AppsDestroyCommand),
    /// Rename an app.
    #[command(name = "apps:rename", visible_alias = "rename")]
    AppsRename(apps_rename::AppsRenameCommand),
    /// Display whether an app is in maintenance mode.
    #[command(name = "maintenance")]
    Maintenance(maintenance::MaintenanceCommand),
    /// Put an app in maintenance mode.
    #[command(name = "maintenance:on")]
    MaintenanceOn(maintenance::MaintenanceSwitchCommand),
    /// Take an app out of maintenance mode.
    #[command(name = "maintenance:off")]
    MaintenanceOff(maintenance::MaintenanceSwitchCommand),
    /// List an app's features.
    #[command(name = "features")]
    Features(features::FeaturesCommand),
    /// Enable an app feature (preboot, sleep).
    #[command(name = "features:enable")]
    FeaturesEnable(features_switch::FeaturesSwitchCommand),
    /// Disable an app feature.
    #[command(name = "features:disable")]
    FeaturesDisable(features_switch::FeaturesSwitchCommand),
    /// Display an app's config vars.
    #[command(name = "config")]
    Config(config::ConfigCommand),
    /// Display one config var's value.
    #[command(name = "config:get")]
    ConfigGet(config_get::ConfigGetCommand),
    /// Set config vars (makes a new release).
    #[command(name = "config:set", visible_alias = "config:add")]
    ConfigSet(config_set::ConfigSetCommand),
    /// Unset config vars (makes a new release).
    #[command(name = "config:unset", visible_alias = "config:remove")]
    ConfigUnset(config_unset::ConfigUnsetCommand),
    /// Build and release a folder without git push (a tarball of its files).
    #[command(name = "deploy")]
    Deploy(deploy::DeployCommand),
    /// List an app's builds.
    #[command(name = "builds")]
    Builds(builds::BuildsCommand),
    /// Show a build's output (default: the newest build's).
    #[command(name = "builds:output")]
    BuildsOutput(builds_output::BuildsOutputCommand),
    /// Empty an app's build cache.
    #[command(name = "builds:cache:purge")]
    BuildsCachePurge(builds_cache_purge::BuildsCachePurgeCommand),
    /// Show an app's buildpack.
    #[command(name = "buildpacks")]
    Buildpacks(buildpacks::BuildpacksCommand),
    /// Set an app's buildpack (a git URL or a folder on the server).
    #[command(name = "buildpacks:set")]
    BuildpacksSet(buildpacks_set::BuildpacksSetCommand),
    /// Clear an app's buildpack: builds detect one.
    #[command(name = "buildpacks:clear")]
    BuildpacksClear(buildpacks_clear::BuildpacksClearCommand),
    /// List an app's releases.
    #[command(name = "releases")]
    Releases(releases::ReleasesCommand),
    /// Show one release.
    #[command(name = "releases:info")]
    ReleasesInfo(releases_info::ReleasesInfoCommand),
    /// Roll back to an earlier release.
    #[command(name = "rollback", visible_alias = "releases:rollback")]
    Rollback(rollback::RollbackCommand),
    /// List an app's dynos.
    #[command(name = "ps")]
    Ps(ps::PsCommand),
    /// Scale process types, e.g. `paas ps:scale web=2 worker=1:standard-1x`.
    #[command(name = "ps:scale", visible_alias = "scale")]
    PsScale(ps_scale::PsScaleCommand),
    /// Keep a process type's p95 response time under a target by scaling it between min and max.
    #[command(name = "ps:autoscale:enable")]
    PsAutoscaleEnable(ps_autoscale_enable::PsAutoscaleEnableCommand),
    /// Stop autoscaling a process type (its dynos stay as they are).
    #[command(name = "ps:autoscale:disable")]
    PsAutoscaleDisable(ps_autoscale_disable::PsAutoscaleDisableCommand),
    /// An app's metrics, a minute per line: requests, errors, response times, memory.
    #[command(name = "metrics")]
    Metrics(metrics::MetricsCommand),
    /// Restart dynos: all, one process type's, or one.
    #[command(name = "ps:restart", visible_alias = "restart")]
    PsRestart(ps_restart::PsRestartCommand),
    /// Stop one dyno.
    #[command(name = "ps:stop", visible_alias = "stop")]
    PsStop(ps_stop::PsStopCommand),
    /// Run a one-off dyno attached to this terminal; exits with its exit code.
    #[command(name = "run")]
    Run(run::RunCommand),
    /// Run a one-off dyno in the background (output in `paas logs`).
    #[command(name = "run:detached")]
    RunDetached(run_detached::RunDetachedCommand),
    /// List an app's domains.
    #[command(name = "domains")]
    Domains(domains::DomainsCommand),
    /// Add a custom domain to an app.
    #[command(name = "domains:add")]
    DomainsAdd(domains_add::DomainsAddCommand),
    /// Remove a custom domain from an app.
    #[command(name = "domains:remove")]
    DomainsRemove(domains_remove::DomainsRemoveCommand),
    /// Display an app's recent log lines, or follow them with --tail.
    #[command(name = "logs")]
    Logs(logs::LogsCommand),
    /// List an app's scheduled jobs and their next runs.
    #[command(name = "scheduler")]
    Scheduler(scheduler::SchedulerCommand),
    /// Run a command as a one-off dyno on a cron schedule (UTC).
    #[command(name = "scheduler:add")]
    SchedulerAdd(scheduler_add::SchedulerAddCommand),
    /// Remove a scheduled job.
    #[command(name = "scheduler:remove")]
    SchedulerRemove(scheduler_remove::SchedulerRemoveCommand),
    /// List an app's add-ons and attachments.
    #[command(name = "addons")]
    Addons(addons::AddonsCommand),
    /// Create an add-on (heroku-postgresql:essential-0) and attach it to the app.
    #[command(name = "addons:create")]
    AddonsCreate(addons_create::AddonsCreateCommand),
    /// Show an add-on.
    #[command(name = "addons:info")]
    AddonsInfo(addons_info::AddonsInfoCommand),
    /// Attach an existing add-on to the app.
    #[command(name = "addons:attach")]
    AddonsAttach(addons_attach::AddonsAttachCommand),
    /// Detach an add-on from the app.
    #[command(name = "addons:detach")]
    AddonsDetach(addons_detach::AddonsDetachCommand),
    /// Permanently destroy an add-on and its data.
    #[command(name = "addons:destroy")]
    AddonsDestroy(addons_destroy::AddonsDestroyCommand),
    /// List an app's log drains.
    #[command(name = "drains")]
    Drains(drains::DrainsCommand),
    /// Add a log drain (syslog://host:port or http://host/path).
    #[command(name = "drains:add")]
    DrainsAdd(drains_add::DrainsAddCommand),
    /// Remove a log drain.
    #[command(name = "drains:remove")]
    DrainsRemove(drains_remove::DrainsRemoveCommand),
    /// List who has access to an app.
    #[command(name = "access")]
    Access(access::AccessCommand),
    /// Give a user access to an app.
    #[command(name = "access:add")]
    AccessAdd(access_add::AccessAddCommand),
    /// Remove a user's access to an app.
    #[command(name = "access:remove")]
    AccessRemove(access_remove::AccessRemoveCommand),
    /// Update a collaborator's permissions on an app (view, deploy, operate, manage).
    #[command(name = "access:update")]
    AccessUpdate(access_update::AccessUpdateCommand),
    /// Transfer an app to a team, or from a team to one of its members.
    #[command(name = "apps:transfer")]
    AppsTransfer(apps_transfer::AppsTransferCommand),
    /// List the teams that you are a member of.
    #[command(name = "teams")]
    Teams(teams::TeamsCommand),
    /// Create a team; you become its admin.
    #[command(name = "teams:create")]
    TeamsCreate(teams_create::TeamsCreateCommand),
    /// List members of a team.
    #[command(name = "members")]
    Members(members::MembersCommand),
    /// Add a user to a team with a role (admin, member, viewer).
    #[command(name = "members:add")]
    MembersAdd(members_add::MembersAddCommand),
    /// Set a member's role in a team.
    #[command(name = "members:set")]
    MembersSet(members_set::MembersSetCommand),
    /// Remove a user from a team: their access to its apps ends at once.
    #[command(name = "members:remove")]
    MembersRemove(members_remove::MembersRemoveCommand),
    /// Set the `paas` git remote of the current repo to an app.
    #[command(name = "git:remote")]
    GitRemote(git_remote::GitRemoteCommand),
    /// Create a user and print their API key (operator only).
    #[command(name = "users:create")]
    UsersCreate(users_create::UsersCreateCommand),
    /// Grant a user dyno sizes beyond the default, e.g. performance-m (operator only).
    #[command(name = "users:grant")]
    UsersGrant(users_grant::UsersGrantCommand),
    /// List the grid's nodes with their dynos and free capacity (operator only).
    #[command(name = "nodes")]
    Nodes(nodes::NodesCommand),
    /// Make a join token for a new node: `paas server --database-url … --join TOKEN` (operator only).
    #[command(name = "nodes:token")]
    NodesToken(nodes_token::NodesTokenCommand),
    /// Print a shell completion script.
    #[command(name = "completions")]
    Completions(completions::CompletionsCommand),
}

impl ClientCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            ClientCommand::Login(command) => command.run().await,
            ClientCommand::Logout(command) => command.run().await,
            ClientCommand::Whoami(command) => command.run().await,
            ClientCommand::Apps(command) => command.run().await,
            ClientCommand::AppsCreate(command) => command.run().await,
            ClientCommand::AppsInfo(command) => command.run().await,
            ClientCommand::AppsDestroy(command) => command.run().await,
            ClientCommand::AppsRename(command) => command.run().await,
            ClientCommand::AccessUpdate(command) => command.run().await,
            ClientCommand::AppsTransfer(command) => command.run().await,
            ClientCommand::Teams(command) => command.run().await,
            ClientCommand::TeamsCreate(command) => command.run().await,
            ClientCommand::Members(command) => command.run().await,
            ClientCommand::MembersAdd(command) => command.run().await,
            ClientCommand::MembersSet(command) => command.run().await,
            ClientCommand::MembersRemove(command) => command.run().await,
            ClientCommand::Maintenance(command) => command.run().await,
            ClientCommand::MaintenanceOn(command) => command.run(true).await,
            ClientCommand::MaintenanceOff(command) => command.run(false).await,
            ClientCommand::Features(command) => command.run().await,
            ClientCommand::FeaturesEnable(command) => command.run(true).await,
            ClientCommand::FeaturesDisable(command) => command.run(false).await,
            ClientCommand::Config(command) => command.run().await,
            ClientCommand::ConfigGet(command) => command.run().await,
            ClientCommand::ConfigSet(command) => command.run().await,
            ClientCommand::ConfigUnset(command) => command.run().await,
            ClientCommand::Deploy(command) => command.run().await,
            ClientCommand::Builds(command) => command.run().await,
            ClientCommand::BuildsOutput(command) => command.run().await,
            ClientCommand::BuildsCachePurge(command) => command.run().await,
            ClientCommand::Buildpacks(command) => command.run().await,
            ClientCommand::BuildpacksSet(command) => command.run().await,
            ClientCommand::BuildpacksClear(command) => command.run().await,
            ClientCommand::Releases(command) => command.run().await,
            ClientCommand::ReleasesInfo(command) => command.run().await,
            ClientCommand::Rollback(command) => command.run().await,
            ClientCommand::Ps(command) => command.run().await,
            ClientCommand::Run(command) => command.run().await,
            ClientCommand::RunDetached(command) => command.run().await,
            ClientCommand::PsScale(command) => command.run().await,
            ClientCommand::PsAutoscaleEnable(command) => command.run().await,
            ClientCommand::PsAutoscaleDisable(command) => command.run().await,
            ClientCommand::Metrics(command) => command.run().await,
            ClientCommand::PsRestart(command) => command.run().await,
            ClientCommand::PsStop(command) => command.run().await,
            ClientCommand::Domains(command) => command.run().await,
            ClientCommand::DomainsAdd(command) => command.run().await,
            ClientCommand::DomainsRemove(command) => command.run().await,
            ClientCommand::Logs(command) => command.run().await,
            ClientCommand::Scheduler(command) => command.run().await,
            ClientCommand::SchedulerAdd(command) => command.run().await,
            ClientCommand::SchedulerRemove(command) => command.run().await,
            ClientCommand::Addons(command) => command.run().await,
            ClientCommand::AddonsCreate(command) => command.run().await,
            ClientCommand::AddonsInfo(command) => command.run().await,
            ClientCommand::AddonsAttach(command) => command.run().await,
            ClientCommand::AddonsDetach(command) => command.run().await,
            ClientCommand::AddonsDestroy(command) => command.run().await,
            ClientCommand::Drains(command) => command.run().await,
            ClientCommand::DrainsAdd(command) => command.run().await,
            ClientCommand::DrainsRemove(command) => command.run().await,
            ClientCommand::Access(command) => command.run().await,
            ClientCommand::AccessAdd(command) => command.run().await,
            ClientCommand::AccessRemove(command) => command.run().await,
            ClientCommand::GitRemote(command) => command.run().await,
            ClientCommand::UsersCreate(command) => command.run().await,
            ClientCommand::UsersGrant(command) => command.run().await,
            ClientCommand::Nodes(command) => command.run().await,
            ClientCommand::NodesToken(command) => command.run().await,
            ClientCommand::Completions(command) => command.run(),
        }
    }
}
