//! Italian rules (words view, written without accents; "l'IA" reads
//! "l ia").
//!
//! Must never match a description ("tentativi di estrarre il prompt"): the
//! requests here are imperatives addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "it.override_previous",
        Override,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:ignora|ignori|ignorate|dimentica|dimentichi|dimenticate|trascura|trascuri|non seguire|non segua|smetti di seguire|non considerare|non tenere conto (?:di|delle|dei)|non tener conto (?:di|delle|dei)|lascia perdere|scarta|annulla|cancella|disobbedisci (?:a|alle)) (?:\w+ ){0,3}?",
            r"(?:(?:tutte|tutti|precedenti|anteriori|tue|tuoi|sue|suoi|originali|iniziali|ricevute|date) (?:\w+ ){0,2}?(?:istruzioni|regole|indicazioni|direttive|linee guida|ordini|norme|prompt|restrizioni|comandi|consegne)",
            r"|(?:istruzioni|regole|indicazioni|direttive|ordini|norme|restrizioni) (?:\w+ ){0,2}?(?:precedenti|anteriori|originali|iniziali|di sistema|del sistema))\b"
        )),
    ),
    rule(
        "it.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:dimentica|ignora|dimenticate|ignorate|trascura) tutto (?:(?:quello|cio|quanto) (?:che )?(?:\w+ ){0,5}?(?:detto|dette|ricevuto|insegnato|ordinato|scritto)|(?:\w+ ){0,3}?(?:prima|sopra|precedente))\b",
        ),
    ),
    rule(
        "it.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:istruzioni|regole|indicazioni|direttive|norme)(?: \w+){0,3} (?:sono|vengono|risultano) (?:\w+ )?(?:annullate|revocate|nulle|invalide|sospese|disattivate|abolite|decadute|scadute|non piu valide)\b",
        ),
    ),
    rule(
        "it.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\b(?:nuova istruzione|nuove istruzioni|nuovo ordine|nuovi ordini|nuovo compito)\b"),
    ),
    rule(
        "it.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:obbedisci|obbedisca|segui|segua) (?:solo|soltanto|unicamente) (?:a )?(?:questo|questa|queste|me|i miei|le mie|cio che)\b",
        ),
    ),
    rule(
        "it.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:nota|messaggio|avviso|istruzione|attenzione) (?:per|a|all|alla|al) (?:l |la |il )?(?:ia|ai|assistente|modello|bot|chatbot|intelligenza artificiale)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "it.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:mostrami|mostra|mostrate|rivela|rivelami|ripeti|ripetimi|stampa|copia|copiami|dimmi|scrivi|scrivimi|dammi|condividi|elenca|visualizza) (?:(?:mi|ci|ora|adesso|esattamente|per favore) )*",
            r"(?:(?:il tuo|la tua|i tuoi|le tue|tuo|tua|tuoi|tue) (?:\w+ )?(?:prompt|istruzioni|regole|indicazioni|direttive|configurazione|messaggio di sistema|prompt di sistema)",
            r"|(?:il |le )?(?:prompt di sistema|messaggio di sistema|system prompt|istruzioni nascoste|istruzioni di sistema|istruzioni iniziali))\b"
        )),
    ),
    rule(
        "it.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:ripeti|mostrami|dimmi|rivela|copia|scrivi|stampa|elenca) (?:\w+ ){0,2}?(?:le |quali |che )?(?:istruzioni|regole|indicazioni|direttive) (?:che )?(?:\w+ ){0,2}?(?:hai|ti hanno|ti ha|avevi) (?:\w+ )?(?:ricevuto|ricevute|dato|date|fornito|fornite|detto|imposto|imposte)\b",
        ),
    ),
    rule(
        "it.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bqual (?:e|sono) (?:il tuo|la tua|i tuoi|le tue) (?:prompt|messaggio|istruzioni) di sistema\b",
        ),
    ),
    rule(
        "it.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:ripeti|stampa|copia|mostra|scrivi) (?:\w+ ){0,2}?(?:testo|messaggio|istruzioni|parole) (?:che (?:\w+ ){0,2}?)?(?:prima di|sopra) (?:questo|questa|il mio)\b",
        ),
    ),
    rule(
        "it.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:prompt di sistema|messaggio di sistema|istruzioni di sistema|istruzioni del sistema)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "it.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ia|ai|assistente|intelligenza artificiale|modello|chatbot|bot|versione di te) (?:\w+ )?(?:senza|libero da|libera da|priva di|privo di) (?:alcuna |alcun |nessuna |nessun |tutte le |qualsiasi )?(?:\w+ )?(?:restrizioni|restrizione|regole|filtri|limiti|direttive|censura|etica|morale)\b",
        ),
    ),
    rule(
        "it.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:non avere|non hai|non ha) (?:piu )?(?:nessuna|nessun|alcuna|alcun) (?:direttiva|direttive|regola|regole|restrizione|restrizioni|limite|limiti|filtro|filtri)\b",
        ),
    ),
    caps(rule(
        "it.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:sei|sarai|diventa|diventi|interpreta) (?:(?:ora|adesso|da adesso|da ora) )?(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "it.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:fingi di essere|fingi che|comportati come|agisci come|immagina di|immagina che|da adesso sei|da ora sei|ora sei|interpreta il ruolo|fai la parte|entra in modalita)\b",
        ),
    ),
    rule(
        "it.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(
            r"\b(?:sei|ora sei|diventi) (?:un|una) (?:hacker|pirata informatico|criminale|ia malvagia)\b",
        ),
    ),
    rule(
        "it.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:si rifiuta mai|ti rifiuti mai|rifiuta mai|dice mai di no|dici mai di no)\b|\b(?:rispondi|risponde|rispondere) a (?:tutto|tutte le domande|qualsiasi cosa)\b",
        ),
    ),
    rule(
        "it.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:modalita sviluppatore|modalita developer|modalita dio)\b"),
    ),
    rule(
        "it.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:filtri|restrizioni|regole|protezioni|limiti)(?: \w+){0,3} (?:sono|vengono|risultano) (?:\w+ )?(?:disattivati|disattivate|rimossi|rimosse|spenti|sospesi|sospese|eliminati|disabilitati)\b",
        ),
    ),
    rule(
        "it.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:senza|nessun|nessuno|non hai) (?:\w+ )?(?:limiti etici|limiti morali|scrupoli|etica|morale)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "it.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:invia|inviami|manda|mandami|inoltra|trasferisci|carica|spedisci) (?:(?:mi|ci|tutte|tutti|le|i|il|la|tua|tuo|tue|tuoi|salvate|salvati|contenuto|del|della|di) )*",
            r"(?:chiavi api|chiave api|chiavi? (?:dell|delle) api|api keys?|password|credenziali|token|segreti|chiavi private|file env|cronologia della chat|cronologia chat|cronologia della conversazione)",
            r"\b(?: \w+){0,4} (?:a|al|alla|verso|su)\b"
        )),
    ),
    rule(
        "it.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:dammi|mostrami|mostra|rivela|rivelami|dimmi|copia|copiami|elenca|stampa|condividi|passami) (?:(?:mi|ci|tutte|tutti|le|i|il|la|tua|tuo|tue|tuoi|salvate|salvati|memorizzate|contenuto|del|della|di|per favore) )*",
            r"(?:chiavi api|chiave api|chiavi? (?:dell|delle) api|api keys?|password|credenziali|token|segreti|chiavi private|file env|cronologia della chat|cronologia chat)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "it.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["ignora", "dimentica", "trascura"],
            &[
                "le istruzioni precedenti",
                "tutte le istruzioni",
                "le tue istruzioni",
                "le tue regole",
                "tutto quello che ti e stato detto",
            ],
        ]),
    ),
    rule(
        "it.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["mostrami", "rivela", "ripeti", "dimmi"],
            &[
                "il tuo prompt di sistema",
                "le tue istruzioni nascoste",
                "il tuo messaggio di sistema",
            ],
        ]),
    ),
];
