//! Dutch rules (words view, written without accents).
//!
//! Must never match "volg de regels" (follow the rules): an override needs a
//! verb of dropping, or "niet meer" with the model's own rules.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "nl.override_previous",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:negeer|negeert|vergeet|laat varen|schend|schrap|wis|houd geen rekening met|hou geen rekening met|trek je niets aan van|gooi weg) (?:\w+ ){0,3}?(?:alle|vorige|eerdere|voorgaande|bovenstaande|oorspronkelijke|je|jouw|uw|systeem) (?:\w+ ){0,2}?(?:instructies|instructie|regels|richtlijnen|opdrachten|aanwijzingen|bevelen|prompts?|beperkingen|voorschriften|systeeminstructies)\b",
        ),
    ),
    rule(
        "nl.stop_following",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:volg|gehoorzaam|respecteer) (?:\w+ ){0,2}?(?:je|jouw|uw) (?:\w+ )?(?:regels|instructies|richtlijnen|opdrachten|voorschriften) niet(?: meer)?\b",
        ),
    ),
    rule(
        "nl.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\bvergeet (?:alles|al het) (?:(?:wat|dat) )?(?:\w+ ){0,5}?(?:gezegd|verteld|gegeven|opgedragen|hiervoor|eerder|daarvoor|hierboven)\b",
        ),
    ),
    rule(
        "nl.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:instructies|regels|richtlijnen|opdrachten|systeeminstructies)(?: \w+){0,3} (?:zijn|is|worden|werden) (?:\w+ ){0,2}?(?:ongeldig|vervallen|ingetrokken|opgeheven|nietig|geschrapt|uitgeschakeld|niet meer geldig)\b",
        ),
    ),
    rule(
        "nl.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\bnieuwe (?:instructie|instructies|opdracht|taak|regel)\b"),
    ),
    rule(
        "nl.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:gehoorzaam|volg|luister naar) (?:\w+ ){0,2}?(?:alleen|enkel|uitsluitend) (?:nog )?(?:deze|dit|mij|mijn)\b",
        ),
    ),
    rule(
        "nl.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:opmerking|bericht|notitie|instructie|let op) (?:voor|aan) (?:de|het) (?:ai|ki|assistent|model|bot|chatbot|taalmodel)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "nl.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:toon|laat zien|laat me|geef|herhaal|print|kopieer|vertel|schrijf|onthul|deel|noem) (?:(?:me|mij|ons|nu|even|precies) )*",
            r"(?:(?:je|jouw|uw) (?:\w+ )?(?:systeemprompt|systeem prompt|systeembericht|instructies|regels|richtlijnen|configuratie|prompt|opdrachten)",
            r"|(?:de |het )?(?:systeemprompt|systeem prompt|systeembericht|systeeminstructies|verborgen instructies))\b"
        )),
    ),
    rule(
        "nl.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:herhaal|toon|geef|vertel|kopieer|schrijf|noem|print) (?:\w+ ){0,2}?(?:de |welke )?(?:instructies|regels|richtlijnen|opdrachten) (?:die (?:je|jij|u) (?:\w+ ){0,6}?(?:kreeg|kreeg|hebt gekregen|heeft gekregen|gekregen|ontving|ontvangen)|(?:\w+ ){0,3}?(?:je|jou|u) (?:heeft gegeven|gaf|hebben gegeven|meegaf))\b",
        ),
    ),
    rule(
        "nl.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bwat (?:is|zijn) (?:je|jouw|uw) (?:systeemprompt|systeembericht|systeem prompt|systeem bericht|systeeminstructies)\b",
        ),
    ),
    rule(
        "nl.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:herhaal|print|kopieer|toon|schrijf) (?:\w+ ){0,2}?(?:tekst|bericht|instructies|woorden) die (?:voor|boven) (?:dit|deze|mijn)\b",
        ),
    ),
    rule(
        "nl.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(r"\b(?:systeemprompt|systeembericht|systeeminstructies|systeem prompt)\b"),
    ),
    // ---- persona ----
    rule(
        "nl.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ai|ki|assistent|kunstmatige intelligentie|model|chatbot|bot|taalmodel) (?:\w+ )?(?:zonder|vrij van) (?:enige |alle |welke )?(?:\w+ )?(?:beperkingen|beperking|regels|filters|grenzen|richtlijnen|censuur|ethiek|moraal)\b",
        ),
    ),
    rule(
        "nl.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\bgeen (?:enkele )?(?:richtlijn|richtlijnen|regel|regels|beperking|beperkingen|filter|filters) (?:meer )?(?:hebt|heeft|hebben|kent)\b",
        ),
    ),
    caps(rule(
        "nl.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:je bent|jij bent|u bent|ben je|bent u|wees|word) (?:(?:nu|vanaf nu) )?(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "nl.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:doe alsof|doe of|gedraag je als|stel je voor|speel de rol|vanaf nu ben je|je bent nu|schakel over naar|ga naar de)\b",
        ),
    ),
    rule(
        "nl.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:je bent|jij bent|u bent) een (?:hacker|crimineel|kwaadaardige ai)\b"),
    ),
    rule(
        "nl.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nooit (?:weigert|weiger)|(?:weigert|weiger) nooit|zegt nooit nee|beantwoord alles|beantwoordt alles|alles beantwoordt|antwoord op alles)\b",
        ),
    ),
    rule(
        "nl.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:ontwikkelaarsmodus|ontwikkelaars modus|godmodus)\b"),
    ),
    rule(
        "nl.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:veiligheidsfilters|filters|beperkingen|regels|beveiligingen)(?: \w+){0,3} (?:zijn|worden|werden) (?:\w+ )?(?:uitgeschakeld|uitgezet|verwijderd|opgeheven|gedeactiveerd)\b",
        ),
    ),
    rule(
        "nl.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:zonder|geen) (?:\w+ )?(?:ethische grenzen|morele grenzen|scrupules|ethiek|moraal)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "nl.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:stuur|verstuur|zend|mail|upload|post) (?:(?:alle|de|het|je|jouw|mij|me|opgeslagen) )*",
            r"(?:api sleutels?|api keys?|wachtwoorden|wachtwoord|inloggegevens|toegangsgegevens|tokens?|geheimen|secrets|privesleutels|prive sleutels|env bestand|chatgeschiedenis|gespreksgeschiedenis)",
            r"\b(?: \w+){0,4} (?:naar|aan|op)\b"
        )),
    ),
    rule(
        "nl.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:geef|toon|laat zien|laat|vertel|onthul|kopieer|noem|deel|print) (?:(?:me|mij|ons|alle|de|het|je|jouw|uw|opgeslagen|inhoud|van|zien) )*",
            r"(?:api sleutels?|api keys?|wachtwoorden|wachtwoord|inloggegevens|toegangsgegevens|tokens?|geheimen|secrets|privesleutels|env bestand|chatgeschiedenis)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "nl.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["negeer", "vergeet"],
            &[
                "alle vorige instructies",
                "alle eerdere instructies",
                "je instructies",
                "alle instructies",
            ],
        ]),
    ),
    rule(
        "nl.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["toon", "onthul", "geef", "herhaal"],
            &[
                "je systeemprompt",
                "je verborgen instructies",
                "je systeembericht",
            ],
        ]),
    ),
];
