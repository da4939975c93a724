@tiny
Feature: Tiny outpatient settlement
  A small spec folder of hih's own runner tests, run through RunOptions.features_dir.

  @outpatient
  Scenario: The employee is found by ID card
    Given the insured person is the employee
    When the hospital looks the person up by ID card
    Then the person is found with an account balance of 1500.00

  @outpatient
  Scenario: A visit is settled and adds up
    Given the insured person is the employee
    When the hospital settles a visit of 2 x 12.50 and 1 x 20.00
    Then the settlement total is 45.00 and adds up
    And the platform journal holds 1 settlement

  @contract>=2024.1
  Scenario: A social security card without card_sn is refused on 2024.1
    Given the insured person is the employee
    When the hospital looks the person up by social security card without card_sn
    Then the connector refuses the input at /input/data/card_sn

  @contract<2024.1
  Scenario: A social security card without card_sn is accepted before 2024.1
    Given the insured person is the employee
    When the hospital looks the person up by social security card without card_sn
    Then the person is found with an account balance of 1500.00
