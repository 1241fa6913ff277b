//! Intake channels and who submitted.

use crate::error::ParseError;
use crate::ids::ActorId;
use std::fmt;

/// The name of a registered integrator channel: `[A-Z][A-Z0-9_]{1,39}`,
/// not one of the four built-in names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

/// Where a submission came in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Web,
    MailScan,
    InPerson,
    CallCenter,
    /// A channel registered by configuration (an integrator's system).
    Integrator(ChannelName),
}

impl Channel {
    pub fn code(&self) -> &str {
        match self {
            Channel::Web => "WEB",
            Channel::MailScan => "MAIL_SCAN",
            Channel::InPerson => "IN_PERSON",
            Channel::CallCenter => "CALL_CENTER",
            Channel::Integrator(name) => &name.0,
        }
    }

    /// Parses a channel code. Whether an integrator channel is *registered*
    /// is configuration, checked by the caller.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Ok(match raw {
            "WEB" => Channel::Web,
            "MAIL_SCAN" => Channel::MailScan,
            "IN_PERSON" => Channel::InPerson,
            "CALL_CENTER" => Channel::CallCenter,
            other => {
                let mut chars = other.chars();
                let ok_first = chars.next().is_some_and(|c| c.is_ascii_uppercase());
                let ok_rest =
                    chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if !(2..=40).contains(&other.len()) || !ok_first || !ok_rest {
                    return Err(ParseError::new("channel", "is not a valid channel code"));
                }
                Channel::Integrator(ChannelName(other.to_owned()))
            }
        })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who submitted through the channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Submitter {
    /// The claimant themself.
    Claimant,
    /// Agency staff (counter clerk, call-center agent, mailroom).
    Staff(ActorId),
    /// An accredited representative holding power of attorney.
    Representative(ActorId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_integrator_channels_parse() {
        assert_eq!(Channel::parse("WEB"), Ok(Channel::Web));
        assert_eq!(Channel::parse("MAIL_SCAN"), Ok(Channel::MailScan));
        let partner = Channel::parse("PARTNER_API");
        assert_eq!(partner.as_ref().map(|c| c.code()), Ok("PARTNER_API"));
        assert!(Channel::parse("web").is_err());
        assert!(Channel::parse("").is_err());
    }
}
