//! The views' wire form: keys in byte order (the bytes `json!` wrote), and what a client reads
//! from an answer that leaves fields out or sends them `null`.

use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::access::{Permission, Permissions, Team, TeamMember, TeamRole};
use crate::api::PlatformConfig;
use crate::model::{ApiKey, App, Build, Collaborator, Domain, Dyno, Formation, Release, SniEndpointRef, Slug, User, UserRef};

pub(super) fn config() -> PlatformConfig {
    PlatformConfig { domain: "paas.test".into(), router_port: Some(8080), api_url: "http://api.paas.test:5000/".into() }
}

pub(super) fn user() -> User {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    User { id: Uuid::from_u128(1), email: "a@example.com".into(), operator: true, created_at: at, updated_at: at }
}

pub(super) fn owner() -> UserRef {
    UserRef { id: Uuid::from_u128(1), email: "a@example.com".into() }
}

pub(super) fn app(team: bool) -> App {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    App {
        id: Uuid::from_u128(2),
        name: "myapp".into(),
        owner: owner(),
        team: team.then(|| crate::access::TeamRef { id: Uuid::from_u128(3), name: "acme".into() }),
        locked: team,
        maintenance: false,
        created_at: at,
        updated_at: at,
        released_at: team.then_some(at),
    }
}

/// One of each domain type the views render.
pub(super) struct Fixtures {
    pub app: App,
    pub team_app: App,
    pub config: PlatformConfig,
    pub release: Release,
    pub build: Build,
    pub slug: Slug,
    pub formation: Formation,
    pub dyno: Dyno,
    pub domain: Domain,
    pub collaborators: [Collaborator; 2],
    pub key: ApiKey,
    pub team: Team,
    pub member: TeamMember,
}

/// The time every fixture was made.
fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

pub(super) fn fixtures() -> Fixtures {
    let at = at();
    let (app, team_app, config) = (app(false), app(true), config());
    let release = Release {
        id: Uuid::from_u128(4),
        app_id: app.id,
        version: 3,
        description: "Deploy 2b93a215".into(),
        slug_id: Some(Uuid::from_u128(5)),
        process_types: Default::default(),
        config_vars: Default::default(),
        addons: vec!["heroku-postgresql".into()],
        user: owner(),
        status: "succeeded".into(),
        created_at: at,
        current: true,
    };
    let build = Build {
        id: Uuid::from_u128(6),
        app_id: app.id,
        user: owner(),
        status: "succeeded".into(),
        source_version: Some("abc".into()),
        slug_id: Some(Uuid::from_u128(5)),
        release_id: None,
        buildpack: Some("rust".into()),
        created_at: at,
        updated_at: at,
    };
    let slug = Slug {
        id: Uuid::from_u128(5),
        app_id: app.id,
        checksum: "ab".into(),
        size: 10,
        stack: "wasi-p2".into(),
        commit: None,
        buildpack: Some("rust".into()),
        process_types: [("web".to_string(), "./server".to_string())].into(),
        created_at: at,
    };
    let formation = Formation {
        id: Uuid::from_u128(7),
        app_id: app.id,
        process_type: "web".into(),
        command: "./server".into(),
        quantity: 2,
        size: "Basic".into(),
        created_at: at,
        updated_at: at,
    };
    let dyno = Dyno {
        id: Uuid::from_u128(8),
        app_id: app.id,
        name: "web.1".into(),
        process_type: "web".into(),
        command: "./server".into(),
        size: "Basic".into(),
        state: "up".into(),
        release_version: 3,
        created_at: at,
        updated_at: at,
    };
    let domain = Domain {
        id: Uuid::from_u128(9),
        app_id: app.id,
        hostname: "www.example.com".into(),
        sni_endpoint: Some(SniEndpointRef { id: Uuid::from_u128(10), name: "tokyo-1".into() }),
        created_at: at,
        updated_at: at,
    };
    let collaborator = |permissions| Collaborator {
        id: Uuid::from_u128(11),
        app_id: app.id,
        user: UserRef { id: Uuid::from_u128(12), email: "b@example.com".into() },
        permissions,
        created_at: at,
        updated_at: at,
    };
    let key = ApiKey { id: Uuid::from_u128(13), user_id: Uuid::from_u128(1), description: "operator".into(), created_at: at };
    let team = Team { id: Uuid::from_u128(3), name: "acme".into(), created_at: at, updated_at: at };
    let member = TeamMember { id: Uuid::from_u128(14), team_id: team.id, user: owner(), role: TeamRole::Admin, created_at: at, updated_at: at };
    let collaborators = [collaborator(Permissions::ALL), collaborator(Permissions::only(Permission::View))];
    Fixtures { app, team_app, config, release, build, slug, formation, dyno, domain, collaborators, key, team, member }
}

/// One of each view, filled as the API fills them, as JSON text.
pub(super) fn samples() -> Vec<(&'static str, String)> {
    let Fixtures { app, team_app, config, release, build, slug, formation, dyno, domain, collaborators, key, team, member } =
        fixtures();
    let mut dyno_on_node = DynoView::new(&dyno, &app);
    dyno_on_node.node = Some("node-1".into());
    dyno_on_node.attach_url = Some("rendezvous://h:1/s".into());
    let mut account = AccountView::new(&user());
    account.dyno_sizes = Some(vec!["Basic".into()]);
    account.default_team = Some(team_ref(team_app.team.as_ref().unwrap()));
    account.default_organization = account.default_team.clone();
    fn text(view: impl Serialize) -> String {
        serde_json::to_string(&view).unwrap()
    }
    let hook = crate::webhooks::Webhook {
        id: Uuid::from_u128(15),
        app_id: app.id,
        url: "https://hooks.example.com/x".into(),
        secret: "s".into(),
        include: vec!["api:release".into()],
        level: "notify".into(),
        authorization: None,
        created_at: at(),
        updated_at: at(),
    };
    let endpoint = |chain: String| crate::model::SniEndpoint {
        id: Uuid::from_u128(16),
        app_id: app.id,
        name: "tokyo-1".into(),
        certificate_chain: chain,
        private_key: crate::model::PrivateKeyPem::new(String::new()),
        domains: vec![domain.id],
        created_at: at(),
        updated_at: at(),
    };
    let certified = rcgen::generate_simple_self_signed(vec!["www.example.com".to_string()]).unwrap();
    let service = &crate::addons::catalog::SERVICES[0];
    let addon = crate::addons::Addon {
        id: Uuid::from_u128(17),
        name: "postgresql-calm-1".into(),
        app_id: app.id,
        app_name: app.name.clone(),
        service: service.name.into(),
        plan: service.plans[0].name.into(),
        provider_id: "p".into(),
        config: Default::default(),
        config_vars: vec!["DATABASE_URL".into()],
        created_at: at(),
        updated_at: at(),
    };
    let gone = crate::addons::Addon { service: "gone".into(), ..addon.clone() };
    let attachment = crate::addons::AddonAttachment {
        id: Uuid::from_u128(18),
        name: "DATABASE".into(),
        addon_id: addon.id,
        addon_name: addon.name.clone(),
        addon_service: addon.service.clone(),
        addon_plan: addon.plan.clone(),
        addon_app_id: app.id,
        addon_app_name: app.name.clone(),
        app_id: team_app.id,
        app_name: "other".into(),
        config_vars: vec!["DATABASE_URL".into()],
        created_at: at(),
        updated_at: at(),
    };
    let drain = crate::model::LogDrain {
        id: Uuid::from_u128(19),
        app_id: app.id,
        url: "syslog://logs.example.com:514".into(),
        token: "d.1".into(),
        created_at: at(),
        updated_at: at(),
    };
    let feature = crate::model::AppFeature { app_id: app.id, name: "preboot".into(), enabled: true, created_at: at(), updated_at: at() };
    let job = crate::model::ScheduledJob {
        id: Uuid::from_u128(20),
        app_id: app.id,
        schedule: "*/10 * * * *".into(),
        command: "worker --once".into(),
        last_run_at: None,
        created_at: at(),
        updated_at: at(),
    };
    use crate::pipelines::{Coupling, Pipeline, PipelineOwner, Promotion, PromotionTarget, Stage};
    let pipeline =
        Pipeline { id: Uuid::from_u128(21), name: "shop".into(), owner: PipelineOwner::User(owner().id), created_at: at(), updated_at: at() };
    let coupling = Coupling { id: Uuid::from_u128(22), pipeline_id: pipeline.id, app_id: app.id, stage: Stage::Staging, created_at: at(), updated_at: at() };
    let target = PromotionTarget { id: Uuid::from_u128(23), app_id: app.id, release_id: None, status: "failed".into(), error_message: Some("x".into()) };
    let promotion = Promotion {
        id: Uuid::from_u128(24),
        pipeline_id: pipeline.id,
        source_app_id: app.id,
        source_release_id: release.id,
        status: "completed".into(),
        targets: vec![target.clone()],
        created_at: at(),
        updated_at: at(),
    };
    let setup = crate::setups::AppSetup {
        postdeploy: Some(("seeded".into(), 0)),
        failure_message: Some("x".into()),
        ..crate::setups::AppSetup::pending(app.id, build.id)
    };
    vec![
        ("log drain", text(LogDrainView::new(&drain, &app))),
        ("feature", text(FeatureView::new(&crate::model::FEATURES[0], Some(&feature), &app))),
        ("scheduled job", text(ScheduledJobView::new(&job, &app, Some(at())))),
        ("pipeline", text(PipelineView::new(&pipeline))),
        ("coupling", text(CouplingView::new(&coupling, &pipeline, Some(&app)))),
        ("coupling of an unseen app", text(CouplingView::new(&coupling, &pipeline, None))),
        ("promotion", text(PromotionView::new(&promotion))),
        ("promotion target", text(PromotionTargetView::new(&target, &promotion))),
        ("app setup", text(AppSetupView::new(&setup, &app, Some(BuildView::new(&build, &app, &config))))),
        ("app setup without a build", text(AppSetupView::new(&crate::setups::AppSetup { postdeploy: None, ..setup.clone() }, &app, None))),
        ("app transfer", text(AppTransferView::new(&team_app, app_owner(&app)))),
        ("region", text(region())),
        ("stack", text(stack())),
        ("webhook", text(WebhookView::new(&hook, &app))),
        ("sni endpoint", text(SniEndpointView::new(&endpoint(certified.cert.pem()), &app))),
        ("sni endpoint without a readable certificate", text(SniEndpointView::new(&endpoint("x".into()), &app))),
        ("addon service", text(AddonServiceView::new(service))),
        ("plan", text(PlanView::new(service, &service.plans[0]))),
        ("addon", text(AddonView::new(&addon))),
        ("addon out of the catalog", text(AddonView::destroyed(&gone))),
        ("attachment", text(AttachmentView::new(&attachment))),
        ("app", text(AppView::new(&app, &config))),
        ("team app", text(AppView::new(&team_app, &config))),
        ("account", text(AccountView::new(&user()))),
        ("account with extensions", text(account)),
        ("new user", text(NewUserView::new(&user(), "key"))),
        ("authorization", text(AuthorizationView::new(&key, &user(), Some("token")))),
        ("authorization without token", text(AuthorizationView::new(&key, &user(), None))),
        ("release", text(ReleaseView::new(&release, &app))),
        ("build", text(BuildView::new(&build, &app, &config))),
        ("build without url", text(BuildView::with_output(&build, &app, None))),
        ("slug", text(SlugView::new(&slug))),
        ("formation", text(FormationView::new(&formation, &app))),
        ("dyno", text(DynoView::new(&dyno, &app))),
        ("dyno on a node", text(dyno_on_node)),
        ("default domain", text(DomainView::default_domain(&app, &config))),
        ("custom domain", text(DomainView::custom(&domain, &app, &config))),
        ("collaborator", text(CollaboratorView::new(&collaborators[0], &app))),
        ("narrowed collaborator", text(CollaboratorView::new(&collaborators[1], &app))),
        ("team collaborator", text(CollaboratorView::new(&collaborators[0], &team_app))),
        ("owner collaborator", text(CollaboratorView::owner(&app))),
        ("permissions", text(PermissionView::list(Permissions::ALL))),
        ("team", text(TeamView::new(&team, TeamRole::Member, true))),
        ("member", text(MemberView::new(&member))),
    ]
}

#[test]
fn views_write_their_keys_in_byte_order_as_json_values_did() {
    for (name, text) in samples() {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, value.to_string(), "{name}: fields out of order");
    }
}

#[test]
fn a_client_reads_views_with_fields_missing_or_null() {
    let app: AppView = serde_json::from_value(json!({"name": "myapp", "owner": null, "git_url": null, "extra": 1})).unwrap();
    assert_eq!((app.name.as_str(), app.owner.email.as_str(), app.git_url.as_str()), ("myapp", "", ""));
    let release: ReleaseView =
        serde_json::from_value(json!({"id": "r1", "version": 3, "description": null, "status": null, "user": null})).unwrap();
    assert_eq!((release.id.as_str(), release.version, release.eligible_for_rollback), ("r1", 3, None));
    let dyno: DynoView = serde_json::from_value(json!({"name": "web.1", "type": "web", "size": null})).unwrap();
    assert_eq!((dyno.process_type.as_str(), dyno.size.as_str(), dyno.node), ("web", "", None));
    let build: BuildView = serde_json::from_value(json!({"id": "b1", "status": "failed"})).unwrap();
    assert_eq!(build.user, EmailRef::default());
}
