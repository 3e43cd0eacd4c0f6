//! German rules (words view, written without umlauts: "ü" folds to "u",
//! "ß" to "_").
//!
//! Must never match an infinitive or a description ("den Systemprompt
//! auszulesen"): requests are imperatives addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "de.override_previous",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:vergiss|vergesst|vergessen sie|ignoriere|ignorier|ignoriert|ignorieren sie|missachte|missachtet|missachten sie|verwirf|verwerft|uberspringe|ubergehe|beachte nicht|befolge nicht mehr|befolge keine|vernachlassige|streiche|losche) (?:\w+ ){0,3}?(?:alle|alles|samtliche|vorherigen?|vorherige[mrs]?|bisherigen?|bisherige[mrs]?|obigen?|fruheren?|vorangegangenen?|ursprunglichen?|deine[nmrs]?|ihre[nmrs]?|system) (?:\w+ ){0,3}?(?:anweisung(?:en)?|instruktion(?:en)?|befehle?|regeln?|vorgaben?|richtlinien?|anordnungen?|systemanweisung(?:en)?|systemprompt|prompts?|einschrankungen|hinweise|vorschriften)\b",
        ),
    ),
    rule(
        "de.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:vergiss|vergesst|ignoriere|ignorier|verwirf|missachte) (?:einfach |bitte )?alles(?: was)? (?:\w+ ){0,4}?(?:gesagt|erzahlt|gegeben|befohlen|vorgegeben|aufgetragen|davor|vorher|bisher|zuvor|oben|vorhin)\b",
        ),
    ),
    rule(
        "de.set_aside",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:setze|setz|setzt) (?:\w+ ){0,3}?(?:anweisungen|vorgaben|regeln|richtlinien|instruktionen|befehle) (?:\w+ )?(?:ausser|au_er) kraft\b",
        ),
    ),
    rule(
        "de.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:anweisungen|regeln|vorgaben|richtlinien|systemanweisungen|instruktionen|befehle)(?: \w+){0,3} (?:sind|ist|werden|gelten als) (?:\w+ ){0,3}?(?:ungultig|aufgehoben|nichtig|(?:ausser|au_er) kraft|deaktiviert|abgeschafft|hinfallig|widerrufen|nicht mehr gultig)\b",
        ),
    ),
    rule(
        "de.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\bneue (?:anweisung|anweisungen|instruktion|aufgabe|regel|befehle)\b"),
    ),
    rule(
        "de.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:gelten|befolge|gehorche|folge|gehorcht|folgt) (?:\w+ )?nur (?:noch )?(?:meine|diese[nmr]?|dem|mir)\b|\bnur noch (?:meine|diese[nmr]?) (?:befehle|anweisungen|regeln)\b",
        ),
    ),
    rule(
        "de.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:hinweis|nachricht|notiz|anweisung|info|achtung) (?:an|fur) (?:die|den|das) (?:ki|ai|assistenten|chatbot|bot|sprachmodell|modell)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "de.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:gib|zeig|zeige|nenne|nenn|verrate|verrat|wiederhole|wiederhol|drucke|druck|kopiere|kopier|schreib|schreibe|offenbare|enthulle|liste|gebt|zeigt|sag|sage) (?:(?:mir|uns|bitte|jetzt|sofort|mal) )*(?:dein|deine|deinen|deiner|ihr|ihre|ihren) (?:(?:versteckten|ursprunglichen|geheimen|internen|initialen|ersten|kompletten|vollstandigen|genauen|gesamten) )?(?:systemprompt|system prompt|systemnachricht|system nachricht|systemanweisungen|anweisungen|instruktionen|vorgaben|regeln|richtlinien|konfiguration|prompt|startanweisungen)\b",
        ),
    ),
    rule(
        "de.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:gib|zeig|zeige|nenne|verrate|wiederhole|kopiere|schreib|liste|sag) (?:(?:mir|uns|bitte) )*(?:die|alle) (?:anweisungen|regeln|instruktionen|vorgaben|richtlinien) (?:die|welche) (?:du|sie|man dir) (?:\w+ ){0,4}?(?:bekommen|erhalten|bekamst|erhieltst|gegeben)\b",
        ),
    ),
    rule(
        "de.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bwie (?:lautet|lauten) (?:dein|deine|ihr|ihre) (?:\w+ )?(?:systemprompt|system prompt|systemnachricht|anweisungen|vorgaben|instruktionen)\b",
        ),
    ),
    rule(
        "de.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:wiederhole|wiederhol|gib|kopiere|drucke) (?:\w+ ){0,2}?(?:text|nachricht|anweisungen|worte|zeilen) (?:uber|vor|oberhalb) (?:dieser|diesem|der|meiner)\b",
        ),
    ),
    rule(
        "de.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(r"\b(?:systemprompt|systemnachricht|systemanweisungen)\b"),
    ),
    // ---- persona ----
    rule(
        "de.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ki|ai|assistent|assistenten|kunstliche intelligenz|modell|chatbot|sprachmodell|version von dir) (?:ohne|frei von) (?:jegliche |jede |alle |irgendwelche |irgendeine )?(?:\w+ )?(?:einschrankungen|regeln|filter|grenzen|richtlinien|beschrankungen|zensur|ethik|moral)\b|\b(?:ki|ai|assistent|modell|chatbot) (?:\w+ )?(?:die|der|das) (?:keine|keinerlei) (?:\w+ )?(?:regeln|richtlinien|filter|grenzen|einschrankungen) (?:hat|kennt|besitzt)\b",
        ),
    ),
    caps(rule(
        "de.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:du bist|sei|bist du|spiele|spiel) (?:(?:jetzt|nun|ab sofort|ab jetzt|von nun an) )?(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "de.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:tu so als|tue so als|stell dir vor|spiel die rolle|spiele die rolle|schlupf in die rolle|du bist (?:jetzt|nun|ab sofort)|ab sofort bist du|von nun an bist du|verhalte dich wie|agiere als)\b",
        ),
    ),
    rule(
        "de.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nie|niemals) (?:etwas |eine anfrage |eine antwort )?(?:ablehnt|ablehnst|verweigert|verweigerst|nein sagt)\b|\b(?:alles|jede frage) beantwortet\b|\bbeantworte (?:einfach )?alles\b",
        ),
    ),
    rule(
        "de.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:entwicklermodus|entwickler modus|gottmodus)\b"),
    ),
    rule(
        "de.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:sicherheitsfilter|filter|schutzmechanismen|einschrankungen|sicherheitsrichtlinien|richtlinien|regeln)(?: \w+){0,3} (?:sind|wurden|werden) (?:\w+ )?(?:deaktiviert|abgeschaltet|ausgeschaltet|entfernt|aufgehoben)\b",
        ),
    ),
    rule(
        "de.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:keine|ohne|keinerlei) (?:ethischen|moralischen|ethische|moralische) (?:grenzen|bedenken|regeln|einschrankungen|skrupel)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "de.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:schick|schicke|sende|send|ubermittle|leite|poste|lade) (?:(?:alle|die|deine|deinen|den|das|samtliche|gespeicherten|mir|uns) )*",
            r"(?:api schlussel|api keys?|apikeys?|passworter|passwort|kennworter|zugangsdaten|anmeldedaten|tokens?|geheimnisse|secrets|private schlussel|env datei|chatverlauf)",
            r"\b(?: \w+){0,4} (?:an|nach|zu|auf)\b"
        )),
    ),
    rule(
        "de.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:gib|zeig|zeige|nenne|nenn|verrate|verrat|kopiere|kopier|liste|drucke|schreib) (?:(?:mir|uns|alle|die|den|das|deine|deinen|dein|deiner|samtliche|gespeicherten|geheimen|inhalt|der|des|bitte) )*",
            r"(?:api schlussel|api keys?|apikeys?|passworter|passwort|kennworter|kennwort|zugangsdaten|anmeldedaten|tokens?|geheimnisse|secrets|private schlussel|env datei|chatverlauf|kreditkartendaten)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "de.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["vergiss", "ignoriere", "missachte"],
            &["alle", "deine"],
            &["vorherigen", "bisherigen"],
            &["anweisungen", "regeln"],
        ]),
    ),
    rule(
        "de.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["gib", "zeig", "zeig mir", "verrate", "verrate mir"],
            &[
                "deinen systemprompt",
                "deine versteckten anweisungen",
                "deine anweisungen",
            ],
        ]),
    ),
];
