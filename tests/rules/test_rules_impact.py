"""The impact reading on paraphrases of each class of evidence, in every language it reads.

These are written for the classes (scope, state, consequence, workaround, declared severity),
not taken from any labelled set: the reading must hold on mail its vocabulary was not
written against.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rules
from rules import RuleConfigError, RuleContext, compile_rules, default_ruleset
from tests.rules.test_rules_defaults import make_mail

CTX = RuleContext(plan="standard", default_priority="P3")
DEFAULTS = default_ruleset()


def classify(subject: str, text: str, ctx: RuleContext = CTX) -> tuple[str, bool]:
    result = DEFAULTS.classify(make_mail(subject, text), ctx)
    return result.priority, result.triage


TOTAL = [
    ("en", "Checkout", "Since 7am none of our customers can complete a purchase on the web shop."),
    ("en", "Phones", "All 14 branches are unable to make or take calls this morning."),
    ("en", "Sorry to bother you", "Probably nothing, but I don't think any of our 30 stores can take card "
     "payments at the moment. Whenever you have a minute."),
    ("de", "Kassen", "Seit heute früh kann keine unserer 9 Filialen mehr kassieren."),
    ("de", "Anmeldung", "Niemand im Unternehmen kann sich anmelden, alle Mitarbeiter sitzen vor dem Login."),
    ("fr", "Téléphonie", "Aucun de nos conseillers ne peut recevoir d'appels depuis 8h, les clients tombent sur "
     "une tonalité occupée."),
    ("fr", "Petite question", "Est-ce normal que tous nos magasins soient bloqués à la caisse depuis ce matin ?"),
    ("es", "Pedidos", "Ninguna de nuestras tiendas puede cobrar desde las 9; no entra ni un solo pedido."),
    ("nl", "Storing", "Geen enkele medewerker kan inloggen, alle vestigingen liggen stil."),
    ("it", "Blocco", "Tutti i nostri negozi sono fermi: nessuna cassa riesce a chiudere uno scontrino."),
    ("pt", "Parado", "Nenhuma das nossas 12 lojas consegue vender desde a abertura, o sistema está fora do ar."),
    ("en", "Quick one", "Not sure if it's just us, but our customers haven't been able to place a single order "
     "on the site since about 8. Could someone have a look when you get a chance?"),
    ("en", "Login", "Since the maintenance last night our whole school can't sign in to the learning platform."),
    ("de", "Kassensystem", "Alle Kassen in sämtlichen Märkten hängen beim Start, wir können nichts verkaufen."),
    ("nl", "Betalen", "Onze klanten kunnen sinds vanochtend helemaal niet meer betalen in de webshop."),
]


@pytest.mark.parametrize(("language", "subject", "text"), TOTAL, ids=[f"{c[0]}-{i}" for i, c in enumerate(TOTAL)])
def test_a_total_stop_told_by_what_stopped_is_p1(language: str, subject: str, text: str) -> None:
    assert classify(subject, text)[0] == "P1"


PART = [
    ("en", "Leeds office", "Our Leeds office cannot reach the platform; the other five offices are fine."),
    ("en", "Some agents", "About 20 of our 150 agents get an error when they try to log in."),
    ("de", "Filiale", "In einer unserer 12 Filialen funktionieren die Kassen nicht, die anderen laufen normal."),
    ("fr", "Lenteur", "Le logiciel est très lent pour tous nos utilisateurs depuis la mise à jour."),
    ("es", "Intermitente", "Uno de cada cuatro intentos de pago falla desde ayer."),
    ("nl", "Vertraging", "De e-mails komen bij alle medewerkers met een uur vertraging binnen."),
    ("it", "Una sede", "La sede di Torino non riesce a stampare le bolle; le altre sedi funzionano."),
    ("pt", "Lentidão", "O sistema está muito lento em todas as lojas, cada venda demora um minuto."),
    ("en", "Reports", "Some of our reports are taking 2 minutes to load instead of a few seconds. Annoying."),
    ("de", "Scanner", "Die Handscanner in zwei unserer sechs Lager verlieren ständig die Verbindung."),
    ("de", "Etiketten", "Die Filiale in Köln kann seit heute früh keine Etiketten drucken, die anderen Filialen sind "
     "nicht betroffen."),
    ("fr", "Coupures", "Environ un appel sur trois est coupé au bout de quelques secondes."),
]


@pytest.mark.parametrize(("language", "subject", "text"), PART, ids=[f"{c[0]}-{i}" for i, c in enumerate(PART)])
def test_a_part_stopped_or_everyone_slowed_is_p2(language: str, subject: str, text: str) -> None:
    assert classify(subject, text)[0] == "P2"


IMPAIRED = [
    ("en", "Export", "One of our accountants cannot export to PDF; Excel export works instead."),
    ("en", "Logo", "The logo on the invoice PDF is slightly cut off. Amounts are all correct."),
    ("de", "Benutzer", "Ein Benutzer kann sein Passwort nicht zurücksetzen, alle anderen schon."),
    ("fr", "Affichage", "Les accents s'affichent mal dans les SMS de rappel, mais ils partent bien."),
    ("es", "Informe", "El informe mensual muestra la fecha en formato incorrecto."),
    ("nl", "Eén gebruiker", "Eén gebruiker krijgt geen meldingen meer; de rest van het team wel."),
    ("it", "Traduzione", "Nel report i nomi dei mesi sono in inglese invece che in italiano."),
    ("pt", "Um usuário", "Um usuário não consegue abrir o relatório no app; pelo navegador funciona."),
]


@pytest.mark.parametrize(
    ("language", "subject", "text"), IMPAIRED, ids=[f"{c[0]}-{i}" for i, c in enumerate(IMPAIRED)]
)
def test_one_user_or_a_fault_that_stops_nothing_is_p3(language: str, subject: str, text: str) -> None:
    assert classify(subject, text)[0] == "P3"


REQUESTS = [
    ("en", "URGENT!!!", "How do I change the greeting on our voicemail?"),
    ("de", "Angebot", "Bitte senden Sie uns ein Angebot für 10 weitere Lizenzen."),
    ("fr", "Formation", "Pourriez-vous organiser une formation pour nos nouveaux agents ?"),
    ("es", "Alta", "Por favor, crear una cuenta para un nuevo usuario del equipo de ventas."),
    ("nl", "Vraag", "Hoe kan ik een rapport per maand exporteren?"),
    ("it", "Preventivo", "Vorremmo un preventivo per il modulo di fatturazione."),
    ("pt", "Dúvida", "Como faço para configurar o horário de atendimento no feriado?"),
]


@pytest.mark.parametrize(
    ("language", "subject", "text"), REQUESTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(REQUESTS)]
)
def test_a_request_is_p4_whatever_urgency_it_declares(language: str, subject: str, text: str) -> None:
    assert classify(subject, text)[0] == "P4"


def test_a_painful_workaround_keeps_a_total_stop_at_p2_and_asks_for_triage() -> None:
    text = (
        "None of our 8 clinics can see the appointment book. "
        "Reception is calling patients one by one from paper lists."
    )
    assert classify("Appointments", text) == ("P2", True)


def test_a_declared_severity_is_evidence_not_the_verdict() -> None:
    # Declared critical, evidence of one user: not a P1.
    assert classify("Sev 1", "One user cannot change his profile photo.")[0] == "P3"
    # Declared low, evidence of everyone stopped: a P1.
    assert classify("Severity 3", "Nobody in the company can log in to any application.")[0] == "P1"


def test_a_designated_contact_declaring_critical_pages_for_triage() -> None:
    contact = RuleContext(plan="standard", default_priority="P3", is_contact=True)
    result = DEFAULTS.classify(make_mail("CRITICAL", "The nightly export failed."), contact)
    assert result.priority != "P1" and result.triage
    assert result.triage_reason is not None and "designated contact" in result.triage_reason


def test_signature_disclaimer_and_no_rush_are_not_evidence() -> None:
    text = (
        "Could you tell me where to find the call recordings settings?\n\n"
        "Kind regards,\nAnna\n\n"
        "This e-mail is confidential and intended for the addressee only. If urgent or critical, "
        "call our switchboard. Outage notices are published on our website."
    )
    assert classify("Recordings settings", text)[0] == "P4"


@pytest.mark.parametrize(
    "text",
    [
        "Update: it is now completely down for all our users.",
        "Mise à jour : maintenant plus rien ne fonctionne, aucun de nos agents ne peut se connecter.",
        "Het is nu erger geworden: niemand kan meer inloggen.",
        "Agora parou tudo, nenhum atendente consegue acessar o sistema.",
    ],
)
def test_a_reply_that_reports_it_got_worse_raises_the_ticket(text: str) -> None:
    reply = RuleContext(plan="standard", default_priority="P3", is_reply=True, current_priority="P3")
    mail = make_mail("Re: [#7] Occasional timeouts", text)
    assert DEFAULTS.classify(mail, reply).priority == "P1"


def test_the_reading_explains_what_it_found_and_how_it_weighed() -> None:
    result = DEFAULTS.classify(make_mail("Tills", "All 22 branches cannot take payments."), CTX)
    assert result.priority == "P1"
    assert any(line.startswith("scope: all of a group") for line in result.evidence)
    assert any(line.startswith("state: stopped") for line in result.evidence)
    lines = result.explanation()
    assert "evidence:" in lines
    assert any("impact reading: P1" in line for line in lines)
    assert result.as_dict()["evidence"] == list(result.evidence)


def _ruleset(tables: list[dict[str, object]]) -> rules.RuleSet:
    return compile_rules(tables, organisations=(), plans={"gold"}, groups={"billing"}, contacts=())


READ = {"name": "read-impact", "then": {"assess": True}}


def test_a_support_leads_own_rules_stay_first_class() -> None:
    # A lead's priority raises above the reading; a lead's cap limits it; route and tags apply.
    ruleset = _ruleset([
        {"name": "vip-down", "when": {"words": ["down"], "vip": True}, "then": {"priority": "P1"}},
        {"name": "test-mail", "when": {"subject_words": ["test"]}, "then": {"cap": "P4"}},
        {"name": "billing", "when": {"words": ["invoice"]}, "then": {"route": "billing", "tags": ["billing"]}},
        READ,
    ])
    vip = RuleContext(plan="gold", default_priority="P3", vip=True)
    raised = ruleset.classify(make_mail("Export", "The export is down, we copy by hand as a workaround."), vip)
    assert raised.priority == "P1" and "vip-down" in raised.matched_rules
    capped = ruleset.classify(make_mail("test", "Nobody in the company can log in."), CTX)
    assert capped.priority == "P4"
    routed = ruleset.classify(make_mail("Invoice", "Could you resend the March invoice?"), CTX)
    assert (routed.priority, routed.route, routed.tags[0]) == ("P4", "billing", "billing")
    assert "commercial" in routed.tags  # the reading tags what it found, after the lead's tags


def test_without_the_reading_a_rule_set_works_as_before() -> None:
    ruleset = _ruleset([{"name": "outage", "when": {"words": ["outage"]}, "then": {"priority": "P1"}}])
    result = ruleset.classify(make_mail("Hello", "Nobody in the company can log in."), CTX)
    assert (result.priority, result.evidence, result.triage) == ("P3", (), False)


def test_assess_is_checked_when_rules_compile() -> None:
    with pytest.raises(RuleConfigError, match=r"then\.assess"):
        _ruleset([{"name": "x", "then": {"assess": True, "priority": "P2"}}])
    with pytest.raises(RuleConfigError, match=r"then\.assess"):
        _ruleset([{"name": "x", "then": {"assess": "yes"}}])
    assert _ruleset([{"name": "x", "when": {"plan": "gold"}, "then": {"assess": True}}]).names == ("x",)


def test_a_reading_needs_a_rule_that_asks_for_it() -> None:
    # The reading runs only when its rule matches: here only on plan gold.
    ruleset = _ruleset([{"name": "read-gold", "when": {"plan": "gold"}, "then": {"assess": True}}])
    mail = make_mail("Outage", "Nobody in the company can log in.")
    assert ruleset.classify(mail, CTX).priority == "P3"
    assert ruleset.classify(mail, RuleContext(plan="gold", default_priority="P3")).priority == "P1"


def test_the_reading_is_the_same_in_every_process() -> None:
    # Word sets iterate in an order that changes with PYTHONHASHSEED; the reading must not.
    probe = (
        "from tests.rules.test_rules_defaults import make_mail; from rules import default_ruleset, RuleContext; "
        "r = default_ruleset().classify(make_mail('Etiketten', 'Die Filiale in Köln kann keine Etiketten "
        "drucken, die anderen Filialen sind nicht betroffen. Manche Kunden warten.'), "
        "RuleContext(plan='s', default_priority='P3')); print(r.priority, r.evidence)"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1, outputs
