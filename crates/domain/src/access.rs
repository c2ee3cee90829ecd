//! Roles and permissions. The default matrix lives here, in one place; casbin
//! stores what a shop changed on top of it (see `pitwall-authz`).

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// A role inside one shop.
    Role {
        Owner = "owner",
        Manager = "manager",
        Advisor = "advisor",
        Technician = "technician",
        Parts = "parts",
        Viewer = "viewer",
    }
);

string_enum!(
    /// A role on the platform itself, separate from any shop role.
    PlatformRole {
        PlatformAdmin = "platform_admin",
        Support = "support",
    }
);

string_enum!(
    /// Something a shop member may do. Names are published (API errors and
    /// the role editor show them); add new ones, never rename.
    Permission {
        DashboardView = "dashboard.view",
        TicketsView = "tickets.view",
        TicketsEdit = "tickets.edit",
        TicketsStatusSet = "tickets.status.set",
        TicketsComment = "tickets.comment",
        CustomersView = "customers.view",
        CustomersEdit = "customers.edit",
        MessagesSend = "messages.send",
        CustomerLinksSend = "customer_links.send",
        ApprovalsRecord = "approvals.record",
        InspectionsEdit = "inspections.edit",
        PartsEdit = "parts.edit",
        PaymentsTake = "payments.take",
        MessageSetupManage = "message_setup.manage",
        UsersView = "users.view",
        UsersInvite = "users.invite",
        UsersManage = "users.manage",
        RolesManage = "roles.manage",
        ApiKeysManage = "api_keys.manage",
        ShopSettingsManage = "shop.settings.manage",
        BillingManage = "billing.manage",
        AuditView = "audit.view",
        InspectionsSetup = "inspections.setup",
        ServicesEdit = "services.edit",
        ServicesComplete = "services.complete",
    }
);

impl Permission {
    /// One line a shop owner understands, shown in the role editor.
    pub const fn describe(self) -> &'static str {
        use Permission::*;
        match self {
            DashboardView => "See the active-customers dashboard",
            TicketsView => "See tickets",
            TicketsEdit => "Assign, prioritise and edit tickets",
            TicketsStatusSet => "Set the vehicle status",
            TicketsComment => "Add internal comments",
            CustomersView => "See customers and vehicles",
            CustomersEdit => "Add, edit and merge customers",
            MessagesSend => "Text and e-mail customers",
            CustomerLinksSend => "Send customer view links",
            ApprovalsRecord => "Record in-person and phone approvals",
            InspectionsEdit => "Fill in inspections",
            PartsEdit => "Add parts and costs",
            PaymentsTake => "Take payments",
            MessageSetupManage => "Edit statuses and message templates",
            UsersView => "See the shop's staff",
            UsersInvite => "Invite staff",
            UsersManage => "Change staff roles and remove staff",
            RolesManage => "Change what each role may do",
            ApiKeysManage => "Create and revoke POS API keys",
            ShopSettingsManage => "Edit shop name, branding, contact and hours",
            BillingManage => "Manage the subscription",
            AuditView => "See the shop's audit log",
            InspectionsSetup => "Edit, import and export inspection sheets",
            ServicesEdit => "Qualify recommendations: titles, customer notes, labour, ready",
            ServicesComplete => "Mark approved positions done",
        }
    }
}

impl Role {
    /// What a role may do before a shop changes anything.
    pub fn default_permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => Permission::ALL,
            Role::Manager => &[
                DashboardView,
                TicketsView,
                TicketsEdit,
                TicketsStatusSet,
                TicketsComment,
                CustomersView,
                CustomersEdit,
                MessagesSend,
                CustomerLinksSend,
                ApprovalsRecord,
                InspectionsEdit,
                PartsEdit,
                PaymentsTake,
                MessageSetupManage,
                UsersView,
                UsersInvite,
                UsersManage,
                ApiKeysManage,
                ShopSettingsManage,
                AuditView,
                InspectionsSetup,
                ServicesEdit,
                ServicesComplete,
            ],
            Role::Advisor => &[
                DashboardView,
                TicketsView,
                TicketsEdit,
                TicketsStatusSet,
                TicketsComment,
                CustomersView,
                CustomersEdit,
                MessagesSend,
                CustomerLinksSend,
                ApprovalsRecord,
                PaymentsTake,
                UsersView,
                ServicesEdit,
            ],
            Role::Technician => &[
                DashboardView,
                TicketsView,
                TicketsStatusSet,
                TicketsComment,
                InspectionsEdit,
                ServicesComplete,
            ],
            Role::Parts => &[DashboardView, TicketsView, TicketsComment, PartsEdit],
            Role::Viewer => &[DashboardView, TicketsView, CustomersView],
        }
    }

    /// Permissions an owner keeps whatever the shop configures, so that no
    /// shop can lock itself out of its own settings.
    pub fn locked_permissions(self) -> &'static [Permission] {
        match self {
            Role::Owner => &[Permission::RolesManage, Permission::UsersManage],
            _ => &[],
        }
    }

    /// Roles this role may hand out when inviting: never more than its own.
    pub fn may_assign(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Manager => other != Role::Owner,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_has_everything_and_viewer_little() {
        assert_eq!(
            Role::Owner.default_permissions().len(),
            Permission::ALL.len()
        );
        assert!(
            !Role::Viewer
                .default_permissions()
                .contains(&Permission::UsersInvite)
        );
        assert!(
            !Role::Manager
                .default_permissions()
                .contains(&Permission::RolesManage)
        );
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
    }
}
