//! The repair-order workflow: where a job stands between the people who
//! carry it (technician, parts, advisor, customer). A ticket's `stage` is
//! staff-only, beside the vehicle status the customer sees. Pure rules, no
//! storage.

use crate::access::string_enum;

string_enum!(
    /// Where a ticket's work stands among staff. Published names: the API
    /// and the POS notifications carry them.
    Stage {
        Inspection = "inspection",
        Qualification = "qualification",
        AwaitingApproval = "awaiting_approval",
        InWork = "in_work",
        Completed = "completed",
        Canceled = "canceled",
    }
);

string_enum!(
    /// Where a position's parts stand: the technician marked them needed,
    /// parts ordered them, they arrived.
    PartsStatus {
        Needed = "needed",
        Ordered = "ordered",
        Received = "received",
    }
);

impl PartsStatus {
    /// Parts move forward only: needed → ordered → received, or straight
    /// to received when they were on the shelf.
    pub fn may_become(self, to: PartsStatus) -> bool {
        use PartsStatus::*;
        matches!(
            (self, to),
            (Needed, Ordered) | (Ordered, Received) | (Needed, Received)
        )
    }
}

/// Why a move is refused, in words for the person who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden(pub String);

impl Stage {
    /// A new ticket starts with its inspection.
    pub const FIRST: Stage = Stage::Inspection;

    /// No move leaves a canceled ticket.
    pub fn is_final(self) -> bool {
        self == Stage::Canceled
    }

    /// The moves the workflow allows: forward one step at a time; back from
    /// qualification to inspection (findings or media sent back to the
    /// technician) and from work to qualification (a new finding); to
    /// canceled from anywhere, with a reason.
    pub fn may_move(self, to: Stage) -> Result<(), Forbidden> {
        if self == to {
            return Err(Forbidden(format!("is already {to}")));
        }
        if self.is_final() {
            return Err(Forbidden(format!(
                "is {self}: a canceled ticket does not move"
            )));
        }
        if self.allows(to) {
            Ok(())
        } else {
            Err(Forbidden(format!(
                "cannot move from {self} to {to}; from {self} it may go to {}",
                self.next_moves()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    fn allows(self, to: Stage) -> bool {
        use Stage::*;
        self != to
            && !self.is_final()
            && matches!(
                (self, to),
                (Inspection, Qualification)
                    | (Qualification, AwaitingApproval)
                    | (AwaitingApproval, InWork)
                    | (InWork, Completed)
                    | (Qualification, Inspection)
                    | (InWork, Qualification)
                    | (_, Canceled)
            )
    }

    /// Every stage this one may move to, in workflow order.
    pub fn next_moves(self) -> Vec<Stage> {
        Stage::ALL
            .iter()
            .copied()
            .filter(|to| self.allows(*to))
            .collect()
    }

    /// A reason is required to cancel, so that whoever looks later knows
    /// why the job stopped.
    pub fn needs_reason(self) -> bool {
        self == Stage::Canceled
    }
}

/// What moves a ticket by itself, as the seed's workflow says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The technician submitted an inspection: parts and the advisor
    /// qualify its findings (a finding during work sends the job back).
    InspectionSubmitted,
    /// Recommendations went to the customer: an inspection published, or
    /// an order extension for work found later (which pauses the job
    /// until the customer decides).
    RecommendationsSent,
    /// The customer (or staff for them) approved work.
    WorkApproved,
    /// The last approved position was done.
    LastPositionDone,
}

impl Trigger {
    /// Where the trigger takes the ticket, and from which stages. From any
    /// other stage nothing moves: a late event never drags a job back.
    pub fn moves(self) -> (&'static [Stage], Stage) {
        use Stage::*;
        match self {
            Trigger::InspectionSubmitted => (&[Inspection, InWork], Qualification),
            Trigger::RecommendationsSent => {
                (&[Inspection, Qualification, InWork], AwaitingApproval)
            }
            Trigger::WorkApproved => (&[Inspection, Qualification, AwaitingApproval], InWork),
            Trigger::LastPositionDone => (&[InWork], Completed),
        }
    }

    /// The move from `from`, if this trigger moves a ticket there.
    pub fn move_from(self, from: Stage) -> Option<Stage> {
        let (froms, to) = self.moves();
        froms.contains(&from).then_some(to)
    }
}

#[cfg(test)]
mod tests {
    use super::Stage::*;
    use super::*;

    #[test]
    fn forward_one_step_at_a_time() {
        assert!(Inspection.may_move(Qualification).is_ok());
        assert!(Qualification.may_move(AwaitingApproval).is_ok());
        assert!(AwaitingApproval.may_move(InWork).is_ok());
        assert!(InWork.may_move(Completed).is_ok());
        assert!(Inspection.may_move(InWork).is_err());
        assert!(Inspection.may_move(Completed).is_err());
        assert!(AwaitingApproval.may_move(Completed).is_err());
    }

    #[test]
    fn back_only_where_the_workflow_says() {
        assert!(Qualification.may_move(Inspection).is_ok());
        assert!(InWork.may_move(Qualification).is_ok());
        assert!(AwaitingApproval.may_move(Qualification).is_err());
        assert!(Completed.may_move(InWork).is_err());
        assert!(InWork.may_move(Inspection).is_err());
    }

    #[test]
    fn cancel_from_anywhere_but_never_leave_it() {
        for s in Stage::ALL.iter().filter(|s| **s != Canceled) {
            assert!(s.may_move(Canceled).is_ok(), "{s}");
        }
        for s in Stage::ALL {
            assert!(Canceled.may_move(*s).is_err(), "{s}");
        }
        assert!(Canceled.needs_reason());
        assert!(!InWork.needs_reason());
    }

    #[test]
    fn a_refusal_names_where_the_stage_may_go() {
        let Forbidden(why) = Inspection.may_move(Completed).unwrap_err();
        assert_eq!(
            why,
            "cannot move from inspection to completed; from inspection it may go to qualification, canceled"
        );
        let Forbidden(why) = InWork.may_move(InWork).unwrap_err();
        assert_eq!(why, "is already in_work");
    }

    #[test]
    fn triggers_move_only_from_their_stages() {
        for t in [
            Trigger::InspectionSubmitted,
            Trigger::RecommendationsSent,
            Trigger::WorkApproved,
            Trigger::LastPositionDone,
        ] {
            let (froms, to) = t.moves();
            for from in Stage::ALL {
                match t.move_from(*from) {
                    Some(got) => {
                        assert!(froms.contains(from));
                        assert_eq!(got, to);
                    }
                    None => assert!(!froms.contains(from)),
                }
            }
            assert!(!froms.contains(&Canceled) && !froms.contains(&Completed));
        }
        // An approval arriving after the work was completed does not reopen it.
        assert_eq!(Trigger::WorkApproved.move_from(Completed), None);
        assert_eq!(
            Trigger::InspectionSubmitted.move_from(InWork),
            Some(Qualification)
        );
    }
}
