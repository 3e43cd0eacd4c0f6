//! Turkish rules (words view, written without diacritics: "ı" folds to
//! "i", "ş" to "s", "ğ" to "g"). Turkish puts the verb last, so these rules
//! read object first ("önceki talimatları yok say").
//!
//! Must never match a negated imperative as a request to drop the rules
//! ("kurallarını unutma", do not forget your rules): verbs end at a word
//! boundary.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "tr.override_previous",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:onceki|tum|butun|yukaridaki|eski|ilk|orijinal|kendi|sistem) (?:\w+ ){0,2}?(?:talimatlari|talimatlar|talimatlara|yonergeleri|yonergeler|yonergelere|kurallari|kurallar|kurallarina|komutlari|emirleri|kisitlamalari|istemi) (?:\w+ ){0,2}?(?:yok say|yok sayin|gormezden gel|gormezden gelin|unut|unutun|dikkate alma|dikkate almayin|uyma|uymayin|umursama|iptal et|gecersiz say|atla)\b",
        ),
    ),
    rule(
        "tr.drop_your_rules",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:talimatlarini|yonergelerini|kurallarini|talimatlarina|kurallarina|yonergelerine) (?:\w+ )?(?:unut|unutun|yok say|gormezden gel|dikkate alma|uyma|umursama)\b",
        ),
    ),
    rule(
        "tr.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:soylenen|soyledigim|soylenenleri|verilen|ogretilen|yazilan) (?:her seyi|hersey|tum seyleri|ne varsa) (?:unut|unutun|yok say|gormezden gel)\b",
        ),
    ),
    rule(
        "tr.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:talimatlar|talimatlari|kurallar|yonergeler|sistem talimatlari)(?: \w+){0,2} (?:artik )?(?:gecersiz|iptal edildi|kaldirildi|gecerli degil|hukumsuz)\b",
        ),
    ),
    rule(
        "tr.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\byeni (?:talimat|talimatlar|gorev|kural|emir)\b"),
    ),
    rule(
        "tr.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:sadece|yalnizca|yalniz) (?:bu|bana|benim) (?:\w+ )?(?:itaat et|uy|uyun|itaat edin)\b",
        ),
    ),
    rule(
        "tr.address_model",
        Override,
        0.5,
        Words,
        Regex(r"\b(?:yapay zekaya|yapay zeka icin|asistana|modele|bota|ai ya) not\b"),
    ),
    // ---- prompt extraction ----
    rule(
        "tr.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:sistem istemini|sistem istemi|sistem mesajini|sistem mesajin|gizli talimatlarini|ilk talimatlarini|orijinal talimatlarini|gizli yonergelerini) (?:\w+ ){0,3}?(?:goster|yazdir|yaz|soyle|acikla|ifsa et|tekrarla|kopyala|paylas|listele|ver)\b",
        ),
    ),
    rule(
        "tr.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:aldigin|sana verilen|sana verdigi|sana verdikleri|verdigi) (?:\w+ ){0,1}?(?:talimatlari|kurallari|yonergeleri|komutlari) (?:\w+ ){0,2}?(?:tekrar et|tekrarla|goster|yaz|soyle|yazdir|kopyala|listele|acikla)\b",
        ),
    ),
    rule(
        "tr.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(r"\b(?:sistem istemin|sistem mesajin|talimatlarin) (?:nedir|ne)\b"),
    ),
    rule(
        "tr.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:bu mesajdan|bu mesajin) (?:once|oncesindeki|ustundeki|yukarisindaki) (?:\w+ ){0,2}?(?:metni|yazilari|talimatlari|kelimeleri) (?:\w+ ){0,2}?(?:yazdir|tekrarla|goster|yaz|kopyala)\b",
        ),
    ),
    rule(
        "tr.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:sistem istemi|sistem istemini|sistem mesaji|sistem mesajin|sistem talimatlari)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "tr.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:hicbir|hic) (?:\w+ )?(?:kisitlamasi|kurali|filtresi|siniri|limiti|sansuru) (?:\w+ )?(?:olmayan|yok) (?:\w+ )?(?:yapay zeka|asistan|model|bot|sohbet botu|ai)\b|\b(?:kurallari|filtreleri|kisitlamalari|sinirlari|etik sinirlari|yonergeleri)(?: (?:ve|veya) \w+)? olmayan (?:bir )?(?:yapay zeka|asistan|model|bot|ai|hacker)\w*",
        ),
    ),
    caps(rule(
        "tr.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(r"\b(?:sen|artik sen|simdi sen) (?:artik )?(?:dan|stan|dude|aim)\b"),
    )),
    rule(
        "tr.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:gibi davran|gibi davranin|rolunu oyna|hayal et|bundan sonra sen|artik sensin|moduna gec)\b",
        ),
    ),
    rule(
        "tr.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:asla|hicbir zaman) (?:\w+ )?(?:reddetmeyen|reddetme|hayir demeyen)\b|\b(?:her seye|her soruya) cevap ver\b|\bher seyi cevapla\b",
        ),
    ),
    rule(
        "tr.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:gelistirici modu|gelistirici moduna)\b"),
    ),
    rule(
        "tr.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:guvenlik filtrelerin|guvenlik filtreleri|filtrelerin|filtreler|kisitlamalar|kurallar)(?: \w+){0,2} (?:devre disi|kapatildi|kaldirildi|kapali)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "tr.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(
            r"\b(?:api anahtarlarini|api anahtarini|api anahtari|sifreleri|sifreni|sifrelerini|parolalari|kimlik bilgilerini|tokenlari|tokenlerini|gizli bilgileri|ozel anahtarlari|env dosyasinin|sohbet gecmisini) (?:\w+ ){0,6}?(?:gonder|yolla|ilet|yukle)\b",
        ),
    ),
    rule(
        "tr.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(
            r"\b(?:api anahtarlarini|api anahtarini|sifreleri|sifreni|sifrelerini|parolalari|kimlik bilgilerini|tokenlari|tokenlerini|gizli bilgileri|ozel anahtarlari|env dosyasinin|sohbet gecmisini) (?:\w+ ){0,4}?(?:ver|goster|soyle|acikla|yaz|kopyala|listele|paylas)\b",
        ),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "tr.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &[
                "onceki tum talimatlari",
                "tum talimatlari",
                "onceki talimatlari",
            ],
            &["yok say", "unut", "gormezden gel"],
        ]),
    ),
    rule(
        "tr.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["sistem istemini", "gizli talimatlarini"],
            &["goster", "yazdir", "acikla"],
        ]),
    ),
];
