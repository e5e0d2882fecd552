"""The PS3.15 Basic Application Level Confidentiality Profile as :mod:`.deid` applies it: the
attributes' actions, the free text kept, the UID attributes kept, and the error a de-identification
that cannot be done safely raises.  Every public name here is importable from :mod:`.deid` too."""

from __future__ import annotations

import re

from ..errors import HccImagingError

class DeidentificationError(HccImagingError, ValueError):
    """De-identification cannot be done safely as asked (map inside the export, bad map file...)."""


#: PS3.15 Table E.1-1 (Basic Profile) actions for the attributes handled here.
#: X = remove, Z = empty (type 2), D = dummy value, U = new UID (consistent).  Where the
#: table allows several ("X/Z/D") we pick the mildest that keeps the object valid: D for
#: attributes that are type 1 in an IOD we write (DeviceSerialNumber in SEG's Enhanced
#: General Equipment module), X otherwise.  Dates (DA/DT) are shifted, not removed (option
#: 113107), except the birth date, which is emptied.
BASIC_PROFILE_ACTIONS: dict[str, str] = {
    # patient
    "PatientName": "D",
    "PatientID": "D",
    "PatientBirthDate": "Z",
    "PatientBirthTime": "X",
    "PatientSex": "Z",
    "PatientAge": "X",
    "PatientSize": "X",
    "PatientWeight": "X",
    "PatientAddress": "X",
    "PatientTelephoneNumbers": "X",
    "PatientBirthName": "X",
    "PatientMotherBirthName": "X",
    "PatientComments": "X",
    "PatientReligiousPreference": "X",
    "PatientState": "X",
    "PatientTransportArrangements": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "IssuerOfPatientID": "X",
    "MedicalRecordLocator": "X",
    "MedicalAlerts": "X",
    "Allergies": "X",
    "CountryOfResidence": "X",
    "RegionOfResidence": "X",
    "EthnicGroup": "X",
    "Occupation": "X",
    "AdditionalPatientHistory": "X",
    "BranchOfService": "X",
    "MilitaryRank": "X",
    "LastMenstrualDate": "X",
    "PregnancyStatus": "X",
    "SmokingStatus": "X",
    "SpecialNeeds": "X",
    "CurrentPatientLocation": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPatientPhotoSequence": "X",
    "PatientInsurancePlanCodeSequence": "X",
    "AdmissionID": "X",
    "IssuerOfAdmissionIDSequence": "X",
    "ServiceEpisodeID": "X",
    "ServiceEpisodeDescription": "X",
    "VisitComments": "X",
    # study / visit
    "AccessionNumber": "Z",
    "StudyID": "Z",
    "StudyDescription": "X",
    "StudyComments": "X",
    "SeriesDescription": "X",
    "ProtocolName": "X",
    "ReasonForStudy": "X",
    "RequestedProcedureDescription": "X",
    "RequestedProcedureID": "X",
    "ScheduledProcedureStepID": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepDescription": "X",
    "RequestAttributesSequence": "X",
    "ImageComments": "X",
    "FrameComments": "X",
    "DerivationDescription": "X",
    "AcquisitionComments": "X",
    "ModifiedAttributesSequence": "X",
    "OriginalAttributesSequence": "X",
    "OrderCallbackPhoneNumber": "X",
    "OrderEnteredBy": "X",
    "OrderEntererLocation": "X",
    "TopicSubject": "X",
    "TopicAuthor": "X",
    "TopicKeywords": "X",
    "TimezoneOffsetFromUTC": "X",
    "ClinicalTrialSponsorName": "D",
    "ClinicalTrialSubjectID": "D",
    "ClinicalTrialSiteName": "Z",
    # people
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "PerformingPhysicianName": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "RequestingPhysician": "X",
    "OperatorsName": "X",
    "OperatorIdentificationSequence": "X",
    "ScheduledPerformingPhysicianName": "X",
    "ReviewerName": "X",
    "EvaluatorName": "X",
    "InterpretationAuthor": "X",
    "InterpretationRecorder": "X",
    "InterpretationTranscriber": "X",
    "InterpretationApproverSequence": "X",
    "NamesOfIntendedRecipientsOfResults": "X",
    "DistributionName": "X",
    "DistributionAddress": "X",
    "ResponsiblePerson": "X",
    "ResponsibleOrganization": "X",
    "PersonAddress": "X",
    "PersonTelephoneNumbers": "X",
    "PersonName": "D",
    "VerifyingObserverName": "D",
    "VerifyingOrganization": "X",
    "ContentCreatorName": "Z",
    "ContentCreatorIdentificationCodeSequence": "X",
    # institution / equipment
    "InstitutionName": "X",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X",
    "InstitutionalDepartmentName": "X",
    "RequestingService": "X",
    "StationName": "X",
    "DeviceSerialNumber": "D",
    "DetectorID": "X",
    "GantryID": "X",
    "PlateID": "X",
    "CassetteID": "X",
    "ScheduledStationName": "X",
    "PerformedStationName": "X",
    "PerformedLocation": "X",
    "ScheduledProcedureStepLocation": "X",
    "DataSetTrailingPadding": "X",
    # UIDs that identify the creator or storage
    "InstanceCreatorUID": "U",
    "IrradiationEventUID": "U",
    "StorageMediaFileSetUID": "U",
    # more of Table E.1-1 (all X): admission, request, scheduled and performed procedure step,
    # interpretation, results, free-text comments; highdicom copies the patient and study modules
    # of the source images into the SEG and the SR, so whatever the images keep, they keep
    "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "AdmittingDate": "X",
    "AdmittingTime": "X",
    "DischargeDiagnosisDescription": "X",
    "IssuerOfAdmissionID": "X",
    "IssuerOfServiceEpisodeID": "X",
    "IssuerOfServiceEpisodeIDSequence": "X",
    "ReasonForTheRequestedProcedure": "X",
    "ReasonForRequestedProcedureCodeSequence": "X",
    "ReasonForTheImagingServiceRequest": "X",
    "RequestedProcedureComments": "X",
    "RequestedProcedureLocation": "X",
    "RequestedContrastAgent": "X",
    "ImagingServiceRequestComments": "X",
    "IssueDateOfImagingServiceRequest": "X",
    "IssueTimeOfImagingServiceRequest": "X",
    "PlacerOrderNumberImagingServiceRequest": "Z",
    "FillerOrderNumberImagingServiceRequest": "Z",
    "CommentsOnThePerformedProcedureStep": "X",
    "PerformedStationAETitle": "X",
    "PerformedStationNameCodeSequence": "X",
    "PerformedStationGeographicLocationCodeSequence": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepStartDate": "X",
    "ScheduledProcedureStepStartTime": "X",
    "ScheduledProcedureStepEndDate": "X",
    "ScheduledProcedureStepEndTime": "X",
    "ScheduledStationAETitle": "X",
    "ScheduledStationNameCodeSequence": "X",
    "ScheduledStationGeographicLocationCodeSequence": "X",
    "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X",
    "ScheduledPatientInstitutionResidence": "X",
    "ScheduledHumanPerformersSequence": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ActualHumanPerformersSequence": "X",
    "HumanPerformerName": "X",
    "HumanPerformerOrganization": "X",
    "PreMedication": "X",
    "TextComments": "X",
    "TextString": "X",
    "IdentifyingComments": "X",
    "ImagePresentationComments": "X",
    "ResultsComments": "X",
    "ResultsIDIssuer": "X",
    "ResultsDistributionListSequence": "X",
    "Impressions": "X",
    "InterpretationText": "X",
    "InterpretationDiagnosisDescription": "X",
    "InterpretationIDIssuer": "X",
    "PhysicianApprovingInterpretation": "X",
    "IntendedRecipientsOfResultsIdentificationSequence": "X",
    "InsurancePlanIdentification": "X",
    "ConfidentialityConstraintOnPatientDataDescription": "X",
    "PatientPrimaryLanguageCodeSequence": "X",
    "PatientPrimaryLanguageModifierCodeSequence": "X",
    "ReferencedPatientAliasSequence": "X",
    "StudyIDIssuer": "X",
    "TopicTitle": "X",
    "AcquisitionProtocolDescription": "X",
    "AcquisitionDeviceProcessingDescription": "X",
    "ContributionDescription": "X",
    "ModifiedImageDescription": "X",
    "ModifyingDeviceID": "X",
    "ModifyingDeviceManufacturer": "X",
    "GeneratorID": "X",
    "DoseReferenceDescription": "X",
    "CustodialOrganizationSequence": "X",
    "ParticipantSequence": "X",
    "AuthorObserverSequence": "X",
    "DigitalSignaturesSequence": "X",
    "ReferencedDigitalSignatureSequence": "X",
    "ReferencedSOPInstanceMACSequence": "X",
    "MAC": "X",
    "IconImageSequence": "X",
    "DeviceUID": "U",
}

#: Free-text value representations: an attribute of one of these that is neither in
#: :data:`BASIC_PROFILE_ACTIONS` nor in :data:`KEPT_TEXT_KEYWORDS` is emptied (a name or an id
#: typed anywhere else, e.g. an attribute the table above misses, never survives; emptied, not
#: removed, so a type 2 attribute stays present).  AE and UR name places; UN can hold anything.
FREE_TEXT_VRS: frozenset[str] = frozenset({"LO", "LT", "SH", "ST", "UT", "UC", "AE", "UR", "UN"})

#: Free-text attributes kept: codes, what the SEG / SR need (type 1) and that we write ourselves,
#: and technical acquisition descriptions that name no one.
KEPT_TEXT_KEYWORDS: frozenset[str] = frozenset(
    {
        # codes (every code sequence item)
        "CodeValue", "LongCodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning",
        "CodingSchemeName", "CodingSchemeResponsibleOrganization", "CodingSchemeRegistry",
        "CodingSchemeExternalID", "ContextGroupLocalVersion",
        # equipment (type 1 in the SEG's Enhanced General Equipment module)
        "Manufacturer", "ManufacturerModelName", "SoftwareVersions",
        # SEG segments and algorithm; SR text items (cleaned on their own: KEPT_TEXT_CONCEPTS)
        "SegmentLabel", "SegmentDescription", "SegmentAlgorithmName", "TrackingID",
        "AlgorithmName", "AlgorithmVersion", "AlgorithmSource", "AlgorithmParameters",
        "DimensionDescriptionLabel", "TextValue",
        # image description (what the pixels are; contrast agent: phase detection)
        "RescaleType", "ModalityLUTType", "WindowCenterWidthExplanation", "LUTExplanation",
        "ConvolutionKernel", "FilterType", "ContrastBolusAgent", "ContrastBolusRoute",
        "SequenceName", "PulseSequenceName", "ImagedNucleus", "ReceiveCoilName", "TransmitCoilName",
        "ReconstructionMethod", "AttenuationCorrectionMethod", "ScatterCorrectionMethod",
        "Radiopharmaceutical", "PositionReferenceIndicator", "StackID",
        # written by the de-identification itself
        "DeidentificationMethod",
    }
)

#: SR TEXT items kept verbatim under the Clean Structured Content Option: concepts whose text
#: we generate ourselves (no free text typed by a person).  (code value, scheme) pairs.
KEPT_TEXT_CONCEPTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("112039", "DCM"),  # Tracking Identifier
        ("C2348792", "UMLS"),  # Time Point (TID 1502)
        ("126070", "DCM"),  # Subject Time Point Identifier
        ("126071", "DCM"),  # Protocol Time Point Identifier
        ("111001", "DCM"),  # Algorithm Name
        ("111003", "DCM"),  # Algorithm Version
        ("111002", "DCM"),  # Algorithm Parameters
        ("C67447", "NCIt"),  # Activity Session
    }
)

#: UID attributes whose values are registry UIDs (never patient-specific): kept as is.
_KEEP_UID_KEYWORDS = frozenset(
    {
        "SOPClassUID",
        "ReferencedSOPClassUID",
        "MediaStorageSOPClassUID",
        "TransferSyntaxUID",
        "ImplementationClassUID",
        "CodingSchemeUID",
        "ContextUID",
        "MappingResourceUID",
        "ContextGroupExtensionCreatorUID",
        "ReferencedSOPClassUIDInFile",
        "ReferencedTransferSyntaxUIDInFile",
        "RelatedGeneralSOPClassUID",
        "OriginalSpecializedSOPClassUID",
        "SOPClassesInStudy",
        "CodingSchemeRegistry",
    }
)

#: notes hcc_imaging writes itself (sr_import, the read document's Couinaud convention): kept
#: when de-identified, the SR's UID remapped; other note text is dropped (Deidentifier.note).
_IMPORTED_SR_NOTE = re.compile(r"(imported from DICOM SR )([0-9.]+)")
_VERSION = re.compile(r"v?\d+(?:\.\d+)+\S*")  # "1.54", "0.1.0", "v2.3rc1": an algorithm's version
_SEGMENT_NOTE = re.compile(r"couinaud segment\s+(?:[IVX]+|[1-8])", re.IGNORECASE)

_REGISTRY_UID_PREFIXES = ("1.2.840.10008.", "2.16.840.1.113883.", "1.3.6.1.4.1.19376.")
_REMOVED_TEXT = "REMOVED"
